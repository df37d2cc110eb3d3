"""SMS backends, chosen by the SMS_BACKEND setting.

`console` prints, `file` appends JSON lines to var/sms.jsonl, `locmem` keeps
messages in `outbox` for tests (as Django's locmem mail backend does), and
`twilio` talks to Twilio's REST API; settings refuse `twilio` without its
credentials.
"""

from __future__ import annotations

import base64
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

# Twilio error codes that will never succeed on a retry (invalid or unreachable number).
TWILIO_PERMANENT = {21211, 21214, 21408, 21610, 21612, 21614}

outbox: list[dict[str, str]] = []  # locmem only: the test process's sent messages


class SmsError(Exception):
    def __init__(self, message: str, *, permanent: bool):
        super().__init__(message)
        self.permanent = permanent


class ConsoleBackend:
    def send(self, to: str, body: str) -> str:
        sys.stdout.write(f"SMS to {to}: {body}\n")
        sys.stdout.flush()
        return f"console-{uuid.uuid4().hex[:12]}"


class FileBackend:
    def send(self, to: str, body: str) -> str:
        path = Path(settings.SMS_FILE_PATH)
        path.parent.mkdir(parents=True, exist_ok=True)
        message_id = f"file-{uuid.uuid4().hex[:12]}"
        line = {"id": message_id, "to": to, "body": body, "at": timezone.now().isoformat()}
        with path.open("a", encoding="utf-8") as stream:
            stream.write(json.dumps(line) + "\n")
        return message_id


class LocmemBackend:
    def send(self, to: str, body: str) -> str:
        message_id = f"locmem-{len(outbox) + 1}"
        outbox.append({"id": message_id, "to": to, "body": body})
        return message_id


class TwilioBackend:
    URL = "https://api.twilio.com/2010-04-01/Accounts/{sid}/Messages.json"

    def send(self, to: str, body: str) -> str:
        sid, token = settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN
        data = urllib.parse.urlencode({"To": to, "From": settings.TWILIO_FROM_NUMBER, "Body": body}).encode()
        request = urllib.request.Request(self.URL.format(sid=sid), data=data, method="POST")
        request.add_header("Authorization", "Basic " + base64.b64encode(f"{sid}:{token}".encode()).decode())
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.load(response)["sid"]
        except urllib.error.HTTPError as exc:
            code = _twilio_code(exc)
            permanent = code in TWILIO_PERMANENT or exc.code in (400, 401, 403, 404)
            raise SmsError(f"Twilio answered {exc.code} (error {code})", permanent=permanent) from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise SmsError(f"Twilio unreachable: {type(exc).__name__}", permanent=False) from exc


def _twilio_code(exc: urllib.error.HTTPError) -> int | None:
    try:
        return int(json.load(exc).get("code"))
    except (ValueError, TypeError, AttributeError):
        return None


BACKENDS = {
    "console": ConsoleBackend,
    "file": FileBackend,
    "locmem": LocmemBackend,
    "twilio": TwilioBackend,
}


def sms_backend():
    name = settings.SMS_BACKEND
    return BACKENDS[name]() if name in BACKENDS else import_string(name)()
