"""Makes the credentials a fuzzing run needs, against a running service; prints shell exports.

Usage: credentials.py BASE_URL CAMPAIGN UNIT ORGANIZER_USERNAME ONE_TIME_PASSWORD

A participant registers in UNIT (consenting to the campaign's notice when it has one) and starts
today's attempt: SQ_PARTICIPANT_TOKEN, SQ_PARTICIPANT_ID and SQ_ATTEMPT_ID. The organizer account that
`safequiz organizer add` made logs in and replaces its one-time password, so that every
endpoint answers it: SQ_ORGANIZER_TOKEN. Runs in the kit's venv (requests comes with
schemathesis).
"""

import shlex
import sys

import requests


def call(method, url, expected, **kwargs):
    response = requests.request(method, url, timeout=30, **kwargs)
    if response.status_code not in expected:
        sys.exit(f"credentials.py: {method} {url} answered {response.status_code}: {response.text}")
    return response.json()


def main():
    base, campaign, unit, username, password = sys.argv[1:6]
    api = f"{base}/api/v1"
    registration = {"name": "模糊测试", "phone": "13912345678", "unit_id": unit}
    notice = requests.get(f"{api}/campaigns/{campaign}/notice", timeout=30)
    if notice.status_code == 200:
        registration["consent"] = True
        version = notice.json().get("version")
        if version is not None:
            registration["notice_version"] = version
    registered = call("POST", f"{api}/campaigns/{campaign}/participants", (200, 201), json=registration)
    participant = registered["token"]
    attempt = call(
        "POST",
        f"{api}/campaigns/{campaign}/attempts",
        (200, 201),
        headers={"Authorization": f"Bearer {participant}"},
    )
    login = call("POST", f"{api}/organizer/login", (200,), json={"username": username, "password": password})
    changed = call(
        "PUT",
        f"{api}/organizer/password",
        (200,),
        headers={"Authorization": f"Bearer {login['token']}"},
        json={"current_password": password, "new_password": "Fuzz-" + password[::-1] + "-2026"},
    )
    exports = {
        "SQ_PARTICIPANT_TOKEN": participant,
        "SQ_PARTICIPANT_ID": str(registered["participant_id"]),
        "SQ_ATTEMPT_ID": attempt["attempt_id"],
        "SQ_ORGANIZER_TOKEN": changed["token"],
    }
    for name, value in exports.items():
        print(f"export {name}={shlex.quote(value)}")


if __name__ == "__main__":
    main()
