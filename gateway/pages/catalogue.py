"""Every text of the signing pages, in Chinese (the default) and English.

``t = texts(lang)`` gives a function ``t(key, **values)``; a missing key is a bug and
raises, rather than showing the key to a signer.
"""
from __future__ import annotations

from collections.abc import Callable

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"

CATALOGUE: dict[str, tuple[str, str]] = {
    "app.title": ("电子合同签署", "E-contract signing"),
    "app.footer": ("电子合同平台提供签署服务 · 数字证书由平台认证机构签发",
                   "Signing by the e-contract platform · certificates issued by the platform's CA"),
    "lang.switch": ("English", "中文"),
    "signer": ("签署人：{name}", "Signer: {name}"),
    "bounce.continue": ("继续打开签署页面", "Continue to the signing page"),
    # steps
    "step.consent": ("开通云签", "Open cloud signing"),
    "step.intent": ("意愿验证", "Verify intent"),
    "step.read": ("阅读签署", "Read and sign"),
    "step.agree": ("阅读确认", "Read and agree"),
    "step.done": ("完成", "Done"),
    # 1. consent
    "consent.title": ("开通云签服务", "Open cloud signing"),
    "consent.body": (
        "为完成电子签名，平台将以您的名义（{name}）向平台数字证书认证机构申请数字证书。证书仅用于您在本平台的电子签名，"
        "每次签名前都需要您本人完成意愿验证。",
        "To sign electronically, the platform will request digital certificates in your name ({name}) from its "
        "certificate authority. They serve only your electronic signatures on this platform, and every signature "
        "needs your own intent verification first.",
    ),
    "consent.check": ("我已阅读并同意《数字证书服务协议》，授权平台为我申请数字证书",
                      "I accept the digital certificate terms and authorise the platform to request certificates for me"),
    "consent.submit": ("同意并开通", "Agree and open"),
    "consent.unchecked": ("请先勾选同意", "Please tick the box to agree first"),
    # signing with one's own certificate (key in the browser or on a USB key)
    "client.title": ("用自己的证书签署", "Sign with your own certificate"),
    "client.intro": ("选择您的证书链（PEM）和私钥（PKCS#8）文件。私钥只在本浏览器中使用，不会上传。",
                     "Choose your certificate chain (PEM) and private key (PKCS#8) files. The key is used in this "
                     "browser only and is never uploaded."),
    "client.chain": ("证书链（PEM，签署人证书在前）", "Certificate chain (PEM, your certificate first)"),
    "client.key": ("私钥（PKCS#8，PEM 或 DER）", "Private key (PKCS#8, PEM or DER)"),
    "client.submit": ("用我的证书签署", "Sign with my certificate"),
    "client.back": ("返回，用云证书签署", "Back to signing with a cloud certificate"),
    "client.working": ("正在签署…", "Signing…"),
    "client.bad_key": ("无法读取私钥：需要 PKCS#8 格式的 ECDSA P-256 或 RSA 私钥。",
                       "The private key cannot be read: a PKCS#8 ECDSA P-256 or RSA key is needed."),
    "client.no_files": ("请选择证书链和私钥文件。", "Choose the certificate chain and the private key files."),
    "client.no_webcrypto": ("此浏览器不支持 WebCrypto，无法在本地签署。",
                            "This browser does not offer WebCrypto: it cannot sign here."),
    "client.link": ("用自己的证书签署（USB 证书或证书文件）", "Sign with your own certificate (USB key or key file)"),
    # 2. intent
    "intent.title": ("意愿验证", "Verify your intent to sign"),
    "intent.lead": ("请确认是您本人签署以下 {count} 份合同", "Confirm that it is you who signs these {count} contract(s)"),
    "intent.method.SMS": ("短信验证码（{recipient}）", "Code by SMS ({recipient})"),
    "intent.method.EMAIL": ("邮箱验证码（{recipient}）", "Code by email ({recipient})"),
    "intent.method.FACE": ("人脸识别", "Face verification"),
    "intent.start": ("获取验证码", "Send the code"),
    "intent.start_face": ("开始人脸识别", "Start face verification"),
    "intent.sent": ("验证码已发送至 {recipient}", "A code was sent to {recipient}"),
    "intent.code": ("验证码", "Code"),
    "intent.confirm": ("确认", "Confirm"),
    "intent.resend": ("重新发送", "Send again"),
    "intent.resend_in": ("{seconds} 秒后可重新发送", "Send again in {seconds} s"),
    "intent.other": ("换一种验证方式", "Use another method"),
    "intent.face_person": ("企业的人脸识别由法定代表人或授权经办人本人完成，请填写其身份信息。",
                           "The organisation's face check is taken by its legal representative or an authorised agent: "
                           "enter that person's details."),
    "intent.face_id_number": ("身份证号", "ID number"),
    "intent.face_name": ("姓名", "Name"),
    "intent.next": ("已通过：{done}。本业务还要求完成下一项验证。", "Confirmed: {done}. This signing also needs the next verification."),
    "intent.face_lead": ("请拍摄一张本人正面照片，由人脸识别服务比对。", "Take a photo of your face for the face check."),
    "intent.face_provider": ("前往人脸识别", "Open the face check"),
    "intent.face_photo": ("本人照片", "Photo of your face"),
    "intent.face_submit": ("提交人脸识别", "Submit the face check"),
    "intent.none": ("没有可用的意愿验证方式", "No intent verification method is available"),
    "intent.none_body": ("业务方的验证方式与您登记的联系方式不匹配，请联系业务方。",
                         "The business line's verification methods do not match your contact details; please contact it."),
    "intent.bad_method": ("请选择一种可用的验证方式", "Please choose one of the methods offered"),
    "intent.no_code": ("请输入验证码", "Please enter the code"),
    "intent.no_photo": ("请先拍摄照片", "Please take a photo first"),
    # 3. read and sign
    "read.title": ("阅读并签署", "Read and sign"),
    "read.title_agree": ("阅读并确认", "Read and agree"),
    "read.contracts": ("待签合同（{count} 份）", "Contracts to sign ({count})"),
    "read.page": ("第 {page} 页 / 共 {pages} 页", "Page {page} of {pages}"),
    "read.forced": ("请完整阅读每份合同（滚动至末尾）后再签署", "Read each contract to its end before signing"),
    "read.wait": ("还需阅读 {seconds} 秒", "{seconds} s of reading left"),
    "read.read": ("已读", "Read"),
    "read.unread": ("未读完", "Not read yet"),
    "read.too_soon": ("阅读时间不足，还需阅读 {seconds} 秒", "Please keep reading for {seconds} more seconds"),
    "sign.appearance": ("签章方式", "How to sign"),
    "sign.default_seal": ("默认印章（签署时自动生成）", "Default seal (made when you sign)"),
    "sign.handwriting": ("手写签名", "Handwritten signature"),
    "sign.draw": ("请在下方区域内手写签名", "Draw your signature in the box below"),
    "sign.pad": ("手写签名区域", "Signature pad"),
    "sign.clear": ("重写", "Clear"),
    "sign.submit": ("确认签署", "Sign"),
    "sign.submit_all": ("确认签署全部 {count} 份", "Sign all {count}"),
    "sign.no_handwriting": ("请先手写签名", "Please draw your signature first"),
    "sign.bad_seal": ("请选择您的印章", "Please choose one of your seals"),
    "sign.intent_expired": ("意愿验证已过期，请重新验证", "Your intent verification expired; please verify again"),
    "agree.check": ("我已阅读并同意以上合同的全部内容", "I have read and agree to everything above"),
    "agree.submit": ("确认同意", "Agree"),
    "agree.unchecked": ("请先勾选同意", "Please tick the box to agree first"),
    "reject.open": ("拒签", "Decline"),
    "reject.reason": ("拒签原因", "Reason"),
    "reject.submit": ("确认拒签", "Decline to sign"),
    "reject.no_reason": ("请填写拒签原因（最多 500 字）", "Please give a reason (at most 500 characters)"),
    # 4. done
    "done.SIGNED": ("签署完成", "Signed"),
    "done.REJECTED": ("已拒签", "Declined"),
    "done.SIGNED.body": ("您已完成签署，合同已加盖您的数字签名。", "You have signed; the contracts carry your digital signature."),
    "done.REJECTED.body": ("您已拒签，业务方将收到通知。", "You declined to sign; the business line is told."),
    "done.redirect_in": ("{seconds} 秒后返回", "Returning in {seconds} s"),
    "done.back": ("立即返回", "Return now"),
    # problems: the link and the contract
    "link.used": ("此签署链接已使用", "This signing link was already used"),
    "link.used.body": ("签署链接只能打开一次。如需签署，请联系业务方重新获取链接。",
                       "A signing link opens only once. To sign, ask the business line for a new link."),
    "link.expired": ("此签署链接已过期", "This signing link has expired"),
    "link.expired.body": ("请联系业务方重新获取签署链接。", "Please ask the business line for a new signing link."),
    "link.unknown": ("签署链接无效", "This signing link is not valid"),
    "link.unknown.body": ("请检查链接是否完整，或联系业务方重新获取。",
                          "Check that the link is complete, or ask the business line for a new one."),
    "session.gone": ("页面已过期", "This page has expired"),
    "session.gone.body": ("签署页面长时间未操作已失效，请联系业务方重新获取签署链接。",
                          "The signing page timed out; please ask the business line for a new signing link."),
    "session.stale": ("页面已失效，请刷新后重试", "This page is out of date; reload it and try again"),
    "session.busy": ("正在处理上一次操作，请稍候", "Your previous action is still being processed; please wait"),
    "contract.closed": ("合同已不能签署", "This contract can no longer be signed"),
    "contract.waiting": ("尚未轮到您签署", "It is not your turn to sign yet"),
    "contract.waiting.body": ("请等待其他签署方完成后再打开新的签署链接。",
                              "Please wait for the other signers, then open a new signing link."),
    "contract.signed": ("您已签署过此合同", "You have already signed this contract"),
    # problems reported by the services
    "error.title": ("无法完成操作", "This could not be done"),
    "error.INVALID_ARGUMENT": ("输入有误，请检查后重试", "Please check what you entered and try again"),
    "error.FAILED_PRECONDITION": ("当前状态下无法完成此操作", "This cannot be done at this point"),
    "error.OUT_OF_RANGE": ("输入超出范围", "A value is out of range"),
    "error.PERMISSION_DENIED": ("不允许此操作", "This is not allowed"),
    "error.UNAUTHENTICATED": ("验证未通过", "Verification failed"),
    "error.NOT_FOUND": ("未找到合同或签署人", "The contract or signer was not found"),
    "error.ALREADY_EXISTS": ("已经处理过了", "This was already done"),
    "error.ABORTED": ("合同刚刚被更新，请重新验证后再签署", "The contract just changed; verify again and sign"),
    "error.RESOURCE_EXHAUSTED": ("操作太频繁，请稍后再试", "Too many attempts; please try again later"),
    "error.UNAVAILABLE": ("服务暂时不可用，请稍后重试", "The service is unavailable for a moment; please try again"),
    "error.DEADLINE_EXCEEDED": ("服务响应超时，请稍后重试", "The service took too long; please try again"),
    "error.INTERNAL": ("系统出错了，请稍后重试", "Something went wrong on our side; please try again later"),
    "error.trace": ("追踪号：{trace}", "Trace id: {trace}"),
    "error.not_found_page": ("页面不存在", "Page not found"),
}


def texts(lang: str) -> Callable[..., str]:
    index = LANGUAGES.index(lang) if lang in LANGUAGES else 0

    def t(key: str, **values: object) -> str:
        text = CATALOGUE[key][index]
        return text.format(**values) if values else text

    return t


def language(requested: str | None, current: str | None = None) -> str:
    """A language the pages speak: the one asked for, else the session's, else Chinese."""
    for candidate in (requested, current):
        if candidate in LANGUAGES:
            return candidate
    return DEFAULT_LANGUAGE
