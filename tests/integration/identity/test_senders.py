import datetime as dt
import email
import email.policy
import ipaddress
import re
import socket
import ssl
import time

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from core.errors import FailedPrecondition, InvalidArgument, Unavailable
from services.identity.provider_http import ProviderEndpoint
from services.identity.senders import (
    Channel,
    DevOutboxSender,
    HttpSmsSender,
    OutgoingMessage,
    SmtpEmailSender,
    code_message,
)

# --- a real SMTP server on loopback ------------------------------------------------------

class Inbox:
    def __init__(self, refuse: str | None = None):
        self.messages: list[tuple[str, list[str], email.message.EmailMessage]] = []
        self.refuse = refuse

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 (aiosmtpd hook)
        if address == self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd hook)
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    """A throwaway CA and a server certificate for 127.0.0.1; returns (server ctx, client ctx)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "identity test CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    d = tmp_path_factory.mktemp("tls")
    (d / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(d / "cert.pem", d / "key.pem")
    client_ctx = ssl.create_default_context(cadata=ca.public_bytes(serialization.Encoding.PEM).decode())
    return server_ctx, client_ctx


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"mailer", b"s3cret")
    return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535 itself


@pytest.fixture
def smtp_server():
    """Starts aiosmtpd servers on free loopback ports; stops them after the test."""
    started: list[Controller] = []

    def start(inbox: Inbox, **kwargs) -> int:
        port = free_port()
        controller = Controller(inbox, hostname="127.0.0.1", port=port, **kwargs)
        controller.start()
        started.append(controller)
        return port

    yield start
    for controller in started:
        controller.stop()


def test_email_over_plain_smtp_in_chinese(smtp_server):
    inbox = Inbox()
    port = smtp_server(inbox)
    sender = SmtpEmailSender("127.0.0.1", port, "noreply@econtract.example", security="none", timeout=5)
    message = code_message(Channel.EMAIL, "zhangsan@example.com", "123456")
    message_id = sender.send(message)
    [(mail_from, rcpt, parsed)] = inbox.messages
    assert mail_from == "noreply@econtract.example"
    assert rcpt == ["zhangsan@example.com"]
    assert parsed["Subject"] == "【电子合同】签署验证码"
    assert parsed["Message-ID"].strip() == message_id  # a long id may be folded onto its own line
    assert parsed.get_content().strip() == "【电子合同】您的验证码为123456，5分钟内有效，请勿泄露。"


def test_email_over_starttls_with_login(smtp_server, tls):
    server_ctx, client_ctx = tls
    inbox = Inbox()
    port = smtp_server(
        inbox, tls_context=server_ctx, require_starttls=True, authenticator=authenticator, auth_required=True
    )
    sender = SmtpEmailSender("127.0.0.1", port, "noreply@econtract.example", security="starttls",
                             username="mailer", password="s3cret", ssl_context=client_ctx, timeout=5)
    sender.send(code_message(Channel.EMAIL, "li@example.com", "654321", language="en"))
    [(_, _, parsed)] = inbox.messages
    assert "Your verification code is 654321" in parsed.get_content()

    wrong = SmtpEmailSender("127.0.0.1", port, "noreply@econtract.example", security="starttls",
                            username="mailer", password="nope", ssl_context=client_ctx, timeout=5)
    with pytest.raises(FailedPrecondition, match="refused our credentials"):
        wrong.send(code_message(Channel.EMAIL, "li@example.com", "654321"))
    assert len(inbox.messages) == 1


def test_starttls_with_an_untrusted_certificate_fails(smtp_server, tls):
    server_ctx, _ = tls
    port = smtp_server(Inbox(), tls_context=server_ctx)
    sender = SmtpEmailSender("127.0.0.1", port, "noreply@econtract.example", timeout=5)  # system trust store
    with pytest.raises(Unavailable, match="SSLCertVerificationError"):
        sender.send(code_message(Channel.EMAIL, "li@example.com", "654321"))


def test_starttls_required_but_not_offered(smtp_server, tls):
    _, client_ctx = tls
    port = smtp_server(Inbox())
    sender = SmtpEmailSender("127.0.0.1", port, "noreply@econtract.example", ssl_context=client_ctx, timeout=5)
    with pytest.raises(FailedPrecondition, match="does not support"):
        sender.send(code_message(Channel.EMAIL, "li@example.com", "654321"))


def test_email_over_implicit_tls(smtp_server, tls):
    server_ctx, client_ctx = tls
    inbox = Inbox()
    port = smtp_server(inbox, ssl_context=server_ctx)
    sender = SmtpEmailSender("127.0.0.1", port, "noreply@econtract.example", security="ssl", ssl_context=client_ctx, timeout=5)
    sender.send(code_message(Channel.EMAIL, "li@example.com", "111222"))
    assert "111222" in inbox.messages[0][2].get_content()


def test_refused_recipient_is_invalid_argument_and_masked(smtp_server):
    port = smtp_server(Inbox(refuse="ghost@example.com"))
    sender = SmtpEmailSender("127.0.0.1", port, "noreply@econtract.example", security="none", timeout=5)
    with pytest.raises(InvalidArgument) as err:
        sender.send(code_message(Channel.EMAIL, "ghost@example.com", "123456"))
    assert err.value.message == "the mail server refused recipient g***@example.com"


def test_unreachable_mail_server():
    sender = SmtpEmailSender("127.0.0.1", free_port(), "noreply@econtract.example", security="none", timeout=2)
    with pytest.raises(Unavailable, match="ConnectionRefusedError"):
        sender.send(code_message(Channel.EMAIL, "li@example.com", "123456"))


def test_email_sender_refuses_sms():
    sender = SmtpEmailSender("127.0.0.1", 25, "noreply@econtract.example", security="none")
    with pytest.raises(InvalidArgument):
        sender.send(code_message(Channel.SMS, "13800000000", "123456"))


# --- SMS over a provider's HTTP API --------------------------------------------------------

def sms_endpoint(url):
    return ProviderEndpoint(base_url=url, app_key="sms-app", app_secret="sms-secret", allow_insecure_http=True,
                            connect_timeout=1, read_timeout=1, backoff_initial=0.01, backoff_max=0.05)


def test_sms_sent_through_the_gateway(provider):
    provider.answers = [(200, {"code": "OK", "messageId": "gw-1"})]
    message = code_message(Channel.SMS, "13800000000", "123456")
    assert HttpSmsSender(sms_endpoint(provider.url)).send(message) == "gw-1"
    [request] = provider.requests
    assert request.path == "/v1/sms/send"
    assert request.json() == {"phoneNumber": "13800000000", "content": message.body, "outId": message.message_id}
    assert request.headers["X-App-Key"] == "sms-app"


def test_sms_retry_keeps_the_same_out_id(provider):
    provider.answers = [(503, {}), (200, {"code": "OK", "messageId": "gw-2"})]
    HttpSmsSender(sms_endpoint(provider.url)).send(code_message(Channel.SMS, "13800000000", "123456"))
    assert len(provider.requests) == 2
    assert provider.requests[0].json()["outId"] == provider.requests[1].json()["outId"]


def test_sms_refusals(provider):
    sender = HttpSmsSender(sms_endpoint(provider.url))
    provider.answers = [(200, {"code": "INVALID_PHONE", "message": "13800000000 is not a number we can reach"})]
    with pytest.raises(InvalidArgument) as err:
        sender.send(code_message(Channel.SMS, "13800000000", "123456"))
    assert "13800000000" not in err.value.message and "138****0000" in err.value.message
    provider.answers = [(200, {"code": "TEMPLATE_REJECTED", "message": "no"})]
    with pytest.raises(FailedPrecondition, match="TEMPLATE_REJECTED"):
        sender.send(code_message(Channel.SMS, "13800000000", "123456"))
    provider.answers = [(200, {"messageId": "x"})]
    with pytest.raises(Unavailable):
        sender.send(code_message(Channel.SMS, "13800000000", "123456"))
    with pytest.raises(InvalidArgument):
        sender.send(code_message(Channel.EMAIL, "a@example.com", "123456"))


# --- the dev outbox ----------------------------------------------------------------------

def test_dev_outbox_newest_first_capped_with_ttl(redis_client, namespace):
    outbox = DevOutboxSender(redis_client, dev_mode=True, namespace=namespace, keep=3, ttl_seconds=600)
    for code in ["111111", "222222", "333333", "444444"]:
        outbox.send(code_message(Channel.SMS, "13800000000", code, challenge_id=f"ch_{code}"))
    entries = outbox.list_outbox("13800000000")
    assert [re.search(r"\d{6}", e.body).group() for e in entries] == ["444444", "333333", "222222"]
    assert (entries[0].code, entries[0].challenge_id) == ("444444", "ch_444444")
    assert entries[0].channel is Channel.SMS and entries[0].recipient == "13800000000"
    assert abs(entries[0].created_at.timestamp() - time.time()) < 5
    assert entries[0].to_json() == {
        "messageId": entries[0].message_id,
        "channel": "SMS",
        "recipient": "13800000000",
        "subject": "",
        "body": "【电子合同】您的验证码为444444，5分钟内有效，请勿泄露。",
        "code": "444444",
        "challengeId": "ch_444444",
        "createTime": entries[0].created_at.isoformat().replace("+00:00", "Z"),
    }
    assert len(outbox.list_outbox("13800000000", limit=1)) == 1
    assert outbox.list_outbox("13800000000", limit=0) == []
    assert outbox.list_outbox("13900000000") == []
    assert 590 < redis_client.ttl(f"{namespace}:outbox:to:13800000000") <= 600


def test_dev_outbox_lists_everyone_when_no_recipient_is_given(redis_client, namespace):
    outbox = DevOutboxSender(redis_client, dev_mode=True, namespace=namespace)
    outbox.send(OutgoingMessage(Channel.EMAIL, "Li@Example.com", "body", "subject"))
    outbox.send(code_message(Channel.SMS, "13800000000", "123456"))
    [entry] = outbox.list_outbox("li@example.com")
    assert (entry.subject, entry.body, entry.code) == ("subject", "body", "")
    assert [e.recipient for e in outbox.list_outbox()] == ["13800000000", "Li@Example.com"]
    assert [e.recipient for e in outbox.list_outbox("")] == ["13800000000", "Li@Example.com"]
