"""The identity service's environment configuration: defaults, parsing, clear errors."""
import pytest

from core.settings import SettingsError
from services.identity.config import DEFAULT_ID_TYPES, FORMAT_ONLY, load_config

PROVIDER = {
    "IDENTITY_REALNAME_PROVIDERS": "acme",
    "IDENTITY_REALNAME_ACME_URL": "https://realname.example.com",
    "IDENTITY_REALNAME_ACME_APP_KEY": "key",
    "IDENTITY_REALNAME_ACME_APP_SECRET": "secret",
}


def test_defaults_need_no_variables():
    config = load_config({}, dev=False)
    assert config.id_types == DEFAULT_ID_TYPES
    assert config.realname_default == FORMAT_ONLY and not config.realname_providers
    assert config.sms is None and config.smtp is None and config.intent_token_ttl == 600


def test_id_types_are_configurable_but_keep_the_national_ones():
    config = load_config({"IDENTITY_ID_TYPES": "ID_CARD, USCC ,EMPLOYEE_NO,ID_CARD"}, dev=False)
    assert config.id_types == ("ID_CARD", "USCC", "EMPLOYEE_NO")
    with pytest.raises(SettingsError, match="must include USCC"):
        load_config({"IDENTITY_ID_TYPES": "ID_CARD,USER_ID"}, dev=False)
    with pytest.raises(SettingsError, match="employee-no"):
        load_config({"IDENTITY_ID_TYPES": "ID_CARD,USCC,employee-no"}, dev=False)


def test_named_http_real_name_providers():
    config = load_config({**PROVIDER, "IDENTITY_REALNAME_DEFAULT": "acme", "IDENTITY_REALNAME_ACME_TIMEOUT": "2.5"}, dev=False)
    endpoint = config.realname_providers["acme"]
    assert endpoint.base_url == "https://realname.example.com" and endpoint.read_timeout == 2.5
    assert config.realname_default == "acme"
    assert "secret" not in repr(config)


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({**PROVIDER, "IDENTITY_REALNAME_ACME_APP_SECRET": ""}, "IDENTITY_REALNAME_ACME_APP_SECRET must be set"),
        ({**PROVIDER, "IDENTITY_REALNAME_ACME_URL": "http://realname.example.com"}, "https"),
        ({**PROVIDER, "IDENTITY_REALNAME_ACME_TIMEOUT": "soon"}, "IDENTITY_REALNAME_ACME_TIMEOUT"),
        ({"IDENTITY_REALNAME_DEFAULT": "acme"}, "not a configured provider"),
        ({"IDENTITY_REALNAME_PROVIDERS": "Acme Corp"}, "lower-case name"),
        ({"IDENTITY_SMS_APP_KEY": "key"}, "IDENTITY_SMS_URL"),
        ({"IDENTITY_SMTP_HOST": "smtp.example.com"}, "IDENTITY_SMTP_FROM"),
        ({"IDENTITY_SMTP_HOST": "smtp.example.com", "IDENTITY_SMTP_FROM": "a@example.com",
          "IDENTITY_SMTP_SECURITY": "tls"}, "starttls, ssl or none"),
        ({"IDENTITY_SMTP_HOST": "smtp.example.com", "IDENTITY_SMTP_FROM": "a@example.com",
          "IDENTITY_SMTP_USERNAME": "user"}, "go together"),
        ({"IDENTITY_INTENT_TOKEN_TTL": "3600"}, "at most 900"),
    ],
)
def test_bad_values_fail_naming_the_variable(env, words):
    with pytest.raises(SettingsError, match=words):
        load_config(env, dev=False)


def test_plain_http_providers_only_in_dev_mode():
    env = {**PROVIDER, "IDENTITY_REALNAME_ACME_URL": "http://127.0.0.1:9000"}
    assert load_config(env, dev=True).realname_providers["acme"].allow_insecure_http


def test_senders():
    config = load_config({
        "IDENTITY_SMS_URL": "https://sms.example.com", "IDENTITY_SMS_APP_KEY": "k", "IDENTITY_SMS_APP_SECRET": "s",
        "IDENTITY_SMTP_HOST": "smtp.example.com", "IDENTITY_SMTP_FROM": "noreply@example.com",
        "IDENTITY_SMTP_SECURITY": "ssl", "IDENTITY_SMTP_USERNAME": "u", "IDENTITY_SMTP_PASSWORD": "p",
    }, dev=False)
    assert config.sms.base_url == "https://sms.example.com"
    assert (config.smtp.port, config.smtp.security, config.smtp.username) == (465, "ssl", "u")
    assert "'p'" not in repr(config.smtp)


def test_code_lifetime_is_a_setting():
    assert load_config({}, dev=False).otp_ttl_seconds == 300
    assert load_config({}, dev=False).otp_resend_cooldown_seconds == 60
    assert load_config({"IDENTITY_OTP_RESEND_COOLDOWN_SECONDS": "1"}, dev=False).otp_resend_cooldown_seconds == 1
    assert load_config({"IDENTITY_OTP_TTL_SECONDS": "90"}, dev=False).otp_ttl_seconds == 90
    for bad, words in (("0", "must be positive"), ("3601", "at most 3600"), ("1.5", "whole number"), ("soon", "not a number")):
        with pytest.raises(SettingsError, match=f"IDENTITY_OTP_TTL_SECONDS.*{words}"):
            load_config({"IDENTITY_OTP_TTL_SECONDS": bad}, dev=False)
