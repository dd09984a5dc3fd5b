"""Alerts to people: a chat webhook (Slack-compatible JSON) and/or e-mail over SMTP, configured by
ALERT_* variables in .env (.env.example explains each); with none set, alerting is off."""

import json
import os
import smtplib
import ssl
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage

TIMEOUT_SECONDS = 10


class AlertNotDelivered(Exception):
    """No channel took the alert; the message says what each one answered."""


@dataclass(frozen=True)
class Alert:
    subject: str
    details: str
    link: str = ""

    def text(self) -> str:
        return "\n".join(part for part in (self.subject, self.details, self.link) if part)


@dataclass(frozen=True)
class Channels:
    webhook_url: str = ""
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_starttls: bool = True
    smtp_user: str = ""
    smtp_password: str = ""
    mail_from: str = ""
    mail_to: tuple[str, ...] = ()
    # Where people open the UI, for links in alerts (e.g. https://dagster.example.com).
    ui_url: str = ""

    @classmethod
    def from_environment(cls, env: Mapping[str, str] = os.environ) -> "Channels":
        return cls(
            webhook_url=env.get("ALERT_WEBHOOK_URL", ""),
            smtp_host=env.get("ALERT_SMTP_HOST", ""),
            smtp_port=int(env.get("ALERT_SMTP_PORT") or 587),
            smtp_starttls=env.get("ALERT_SMTP_STARTTLS", "true").lower() not in ("false", "0", "no", "off"),
            smtp_user=env.get("ALERT_SMTP_USER", ""),
            smtp_password=env.get("ALERT_SMTP_PASSWORD", ""),
            mail_from=env.get("ALERT_EMAIL_FROM", "") or "dagster-stack@localhost",
            mail_to=tuple(address.strip() for address in env.get("ALERT_EMAIL_TO", "").split(",") if address.strip()),
            ui_url=env.get("ALERT_UI_URL", "").rstrip("/"),
        )

    @property
    def enabled(self) -> bool:
        return bool(self.webhook_url or (self.smtp_host and self.mail_to))

    def link(self, path: str) -> str:
        return f"{self.ui_url}{path}" if self.ui_url else ""

    def deliver(self, alert: Alert) -> list[str]:
        """Sends the alert on every configured channel; returns the ones that took it. Raises
        AlertNotDelivered if a configured channel failed, after trying the others."""
        sent, failed = [], []
        for name, configured, send in (
            ("webhook", bool(self.webhook_url), self._post),
            ("e-mail", bool(self.smtp_host and self.mail_to), self._mail),
        ):
            if not configured:
                continue
            try:
                send(alert)
                sent.append(name)
            except (OSError, smtplib.SMTPException) as error:
                failed.append(f"{name}: {error}")
        if failed:
            raise AlertNotDelivered(f"alert {alert.subject!r} not delivered by {'; '.join(failed)}")
        return sent

    def _post(self, alert: Alert) -> None:
        # {"text": ...} is what Slack, Mattermost, Rocket.Chat and Teams' workflows accept. File names
        # and errors are nobody's markup: &, < and > escaped, Slack's way, so none becomes a link.
        text = alert.text().replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        request = urllib.request.Request(
            self.webhook_url,
            data=json.dumps({"text": text}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            response.read()

    def _mail(self, alert: Alert) -> None:
        message = EmailMessage()
        message["Subject"] = f"[dagster-stack] {alert.subject}"
        message["From"] = self.mail_from
        message["To"] = ", ".join(self.mail_to)
        message.set_content(alert.text())
        with smtplib.SMTP(self.smtp_host, self.smtp_port, timeout=TIMEOUT_SECONDS) as smtp:
            if self.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.smtp_user:
                smtp.login(self.smtp_user, self.smtp_password)
            smtp.send_message(message)
