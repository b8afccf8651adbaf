"""Thin gRPC handlers of the template service: proto → domain call → proto."""
from __future__ import annotations

from core.rpc.caller import calling_app
from econtract.common.v1 import common_pb2
from econtract.template.v1 import template_pb2 as pb
from econtract.template.v1 import template_pb2_grpc
from services.template.catalog import Catalog, TemplateQuery
from services.template.messages import (
    enum_name,
    field_out,
    group_out,
    redline_out,
    signer_in,
    signer_out,
    signing_page_in,
    struct_data,
    template_out,
    version_out,
)
from services.template.preview import HTML, PDF, PNG, Previews
from services.template.redline import Redlines
from services.template.review import Review

_FORMATS = {pb.PreviewTemplateRequest.PNG: PNG, pb.PreviewTemplateRequest.HTML: HTML}


class TemplateApi(template_pb2_grpc.TemplateServiceServicer):
    def __init__(self, catalog: Catalog, review: Review, redlines: Redlines, previews: Previews):
        self.catalog = catalog
        self.review = review
        self.redlines = redlines
        self.previews = previews

    def CreateTemplate(self, request, context):
        template, version = self.catalog.create_template(
            name=request.name,
            group=request.group,
            description=request.description,
            docx=request.docx,
            signers=tuple(signer_in(s) for s in request.signers),
            creator=calling_app(context),
        )
        return pb.CreateTemplateResponse(
            template_id=template.template_id,
            version=version.version,
            status=version.status,
            fields=[field_out(f) for f in version.fields],
            docx_sha256=version.docx_sha256,
        )

    def GetTemplate(self, request, context):
        detail = self.catalog.get(request.template_id)
        template = template_out(detail.template)
        return pb.GetTemplateResponse(
            **{f.name: getattr(template, f.name) for f, _ in template.ListFields()},
            versions=[version_out(v) for v in detail.versions],
        )

    def ListTemplates(self, request, context):
        page = self.catalog.list(
            TemplateQuery(
                group=request.group,
                status=enum_name(pb.Template.Status, request.status),
                review_status=enum_name(pb.TemplateVersion.Status, request.review_status),
                name_query=request.name_query,
                page_size=request.page_size,
                page_token=request.page_token,
            )
        )
        return pb.ListTemplatesResponse(templates=[template_out(t) for t in page.items], next_page_token=page.next_token)

    def CreateTemplateVersion(self, request, context):
        version = self.catalog.add_version(
            request.template_id,
            docx=request.docx,
            signers=tuple(signer_in(s) for s in request.signers) or None,
            change_note=request.change_note,
            uploader=calling_app(context),
        )
        return pb.CreateTemplateVersionResponse(
            template_id=version.template_id,
            version=version.version,
            status=version.status,
            fields=[field_out(f) for f in version.fields],
            docx_sha256=version.docx_sha256,
        )

    def ApproveTemplateVersion(self, request, context):
        version = self.review.approve(request.template_id, request.version, calling_app(context), request.comment)
        return pb.ApproveTemplateVersionResponse(
            template_id=version.template_id, version=version.version, status=version.status
        )

    def RejectTemplateVersion(self, request, context):
        version = self.review.reject(request.template_id, request.version, calling_app(context), request.comment)
        return pb.RejectTemplateVersionResponse(
            template_id=version.template_id, version=version.version, status=version.status
        )

    def GetTemplateVersion(self, request, context):
        version = self.catalog.version(request.template_id, request.version)
        docx = self.catalog.read_docx(version) if request.include_docx else b""
        return pb.GetTemplateVersionResponse(version=version_out(version), docx=docx)

    def GetTemplateVersionFields(self, request, context):
        version = self.catalog.version(request.template_id, request.version)
        return pb.GetTemplateVersionFieldsResponse(
            template_id=version.template_id, version=version.version, fields=[field_out(f) for f in version.fields]
        )

    def GetTemplateVersionRedline(self, request, context):
        return redline_out(self.redlines.redline(request.template_id, request.version, request.base_version))

    def PreviewTemplate(self, request, context):
        preview = self.previews.preview(
            request.template_id,
            version=request.version,
            kind=_FORMATS.get(request.format, PDF),
            dark=request.theme == pb.PreviewTemplateRequest.DARK,
            dpi=request.dpi,
            data=struct_data(request),
            use_sample_data=request.use_sample_data,
        )
        return pb.PreviewTemplateResponse(
            version=preview.version,
            content_type=preview.content_type,
            data=preview.data,
            pages=[pb.PreviewPage(page=p.page, png=p.png, width=p.width, height=p.height) for p in preview.pages],
            page_count=preview.page_count,
        )

    def DisableTemplate(self, request, context):
        template = self.catalog.disable(request.template_id, request.reason)
        return pb.DisableTemplateResponse(template_id=template.template_id, status=template.status)

    def UpdateTemplateSigningPage(self, request, context):
        template = self.catalog.set_signing_page(request.template_id, signing_page_in(request))
        return pb.UpdateTemplateSigningPageResponse(template=template_out(template))

    def CreateTemplateGroup(self, request, context):
        group = self.catalog.create_group(request.group_id, request.name, request.description)
        return pb.CreateTemplateGroupResponse(group=group_out(group))

    def ListTemplateGroups(self, request, context):
        page = self.catalog.list_groups(request.page_size, request.page_token)
        return pb.ListTemplateGroupsResponse(groups=[group_out(g) for g in page.items], next_page_token=page.next_token)

    def ResolveApprovedVersion(self, request, context):
        approved = self.review.resolve_approved(request.template_id)
        version = approved.version
        return pb.ResolveApprovedVersionResponse(
            template_id=approved.template_id,
            template_name=approved.template_name,
            version=version.version,
            docx_sha256=version.docx_sha256,
            docx=common_pb2.FileData(blob_ref=version.docx_ref),
            signers=[signer_out(s) for s in version.signers],
            fields=[field_out(f) for f in version.fields],
        )
