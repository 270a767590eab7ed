"""The console over plain HTTP: sign-in, sessions, CSRF, throttling, roles, the JSON twins,
and that nothing an auditor can fetch holds a redacted value."""

from __future__ import annotations

import io
import re
import ssl
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile

from tests.console.conftest import access_log, csrf_of, files_under, sign_in
from tests.integration.certs import make_localhost_cert
from tests.integration.console_site import PASSWORDS, Site, cli, running_console
from tests.integration.test_transcribe_job import CARD_NEEDLES, decoded_words

pytestmark = pytest.mark.timeout(300)  # the first test also records and transcribes the calls

SECRET_PAGES = ("/", "/calls", "/calls?q=card", "/usage")


def _pages(site: Site) -> list[str]:
    return [*SECRET_PAGES, f"/calls/{site.card_call}", f"/calls/{site.card_call}/audio"]


def _apis(site: Site) -> list[str]:
    return ["/api/calls", "/api/calls?q=card", f"/api/calls/{site.card_call}",
            f"/api/calls/{site.card_call}/waveform", "/api/usage"]


def _words(wav: bytes) -> list[str]:
    samples, rate = soundfile.read(io.BytesIO(wav), dtype="int16", always_2d=True)
    return decoded_words(np.ascontiguousarray(samples[:, 0]), rate) + decoded_words(
        np.ascontiguousarray(samples[:, 1]), rate)


def test_nothing_but_the_sign_in_page_without_a_session(site: Site) -> None:
    with httpx.Client(base_url=site.url, follow_redirects=False, timeout=30) as anon:
        assert anon.get("/login").status_code == 200
        assert anon.get("/static/console.css").status_code == 200
        for path in _pages(site):
            r = anon.get(path)
            assert (r.status_code, r.headers.get("location")) == (303, "/login"), path
        for path in _apis(site):
            r = anon.get(path)
            assert r.status_code == 401 and r.json() == {"error": "sign in first"}, path
        anon.cookies.set("recorder_session", "made-up-token")
        assert anon.get(f"/calls/{site.card_call}/audio").status_code == 303
        assert anon.get("/api/calls").status_code == 401


def test_security_headers_cookies_and_no_inline_script(site: Site) -> None:
    with httpx.Client(base_url=site.url, follow_redirects=False, timeout=30) as anon:
        login = anon.get("/login")
        form_cookie = login.headers["set-cookie"]
        assert "HttpOnly" in form_cookie and "SameSite=strict" in form_cookie
        done = anon.post("/login", data={"username": "alice", "password": PASSWORDS["alice"],
                                         "csrf": csrf_of(login.text)})
        session_cookie = next(c for c in done.headers.get_list("set-cookie") if c.startswith("recorder_session="))
        assert "HttpOnly" in session_cookie and "SameSite=strict" in session_cookie
        assert "Secure" not in session_cookie  # plain HTTP here; --behind-tls or --certfile add it
        for path in ["/login", *SECRET_PAGES[1:], f"/calls/{site.card_call}", "/api/usage"]:
            r = anon.get(path)
            assert r.status_code == 200, path
            csp = r.headers["content-security-policy"]
            assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe" not in csp
            assert r.headers["x-content-type-options"] == "nosniff"
            assert r.headers["cache-control"] == "no-store"
            inline = [s for s in re.findall(r"<script[^>]*>", r.text)
                      if "src=" not in s and 'type="application/json"' not in s]
            assert inline == [], path
        reflected = anon.get("/calls", params={"q": '"><script>alert(1)</script>'})
        assert "<script>alert" not in reflected.text and "&lt;script&gt;alert(1)" in reflected.text


def test_csrf_token_is_required_for_every_post(site: Site) -> None:
    with httpx.Client(base_url=site.url, follow_redirects=False, timeout=30) as anon:
        token = csrf_of(anon.get("/login").text)
        form = {"username": "sam", "password": PASSWORDS["sam"]}
        assert anon.post("/login", data=form).status_code == 403
        assert anon.post("/login", data={**form, "csrf": token + "x"}).status_code == 403
        anon.cookies.clear()
        assert anon.post("/login", data={**form, "csrf": token}).status_code == 403  # no cookie to match
    with sign_in(site.url, "sam") as sam:
        before = len(access_log(site))
        refused = sam.post(f"/calls/{site.card_call}/original", data={"reason": "dispute 7"})
        assert refused.status_code == 403 and "CSRF" in refused.text
        assert sam.post("/logout", data={}).status_code == 403
        assert sam.get("/api/usage").status_code == 200  # still signed in
        assert [e["action"] for e in access_log(site)[before:]] == ["console_usage"]
        page = sam.get("/calls")
        assert sam.post("/logout", data={"csrf": csrf_of(page.text)}).status_code == 303
        assert sam.get("/api/usage").status_code == 401


def test_an_auditor_cannot_reach_the_original(site: Site) -> None:
    with sign_in(site.url, "alice") as alice, sign_in(site.url, "sam") as sam:
        page = alice.get(f"/calls/{site.card_call}")
        assert 'action="/calls/' not in page.text and "Only a supervisor" in page.text
        refused = alice.post(f"/calls/{site.card_call}/original",
                             data={"reason": "curious", "csrf": csrf_of(page.text)})
        assert refused.status_code == 403
        granted = sam.post(f"/calls/{site.card_call}/original",
                           data={"reason": "chargeback 1182", "csrf": csrf_of(sam.get("/calls").text)})
        assert granted.status_code == 303
        grant_url = granted.headers["location"]
        assert alice.get(grant_url).status_code == 403
        assert alice.get(grant_url + "/audio").status_code == 403
        with httpx.Client(base_url=site.url, timeout=30) as anon:
            assert anon.get(grant_url + "/audio", follow_redirects=False).status_code == 303
        entries = [e for e in access_log(site) if e["actor"] == "alice" and e["session_id"] == site.card_call]
        assert [e["action"] for e in entries][-3:] == ["console_original_refused"] * 3
        assert not any(e["action"] == "export_original" for e in access_log(site) if e["actor"] == "alice")


def test_break_glass_needs_a_reason_and_streams_the_original_without_touching_disk(site: Site) -> None:
    with sign_in(site.url, "sam") as sam:
        token = csrf_of(sam.get(f"/calls/{site.card_call}").text)
        before_files = files_under(site.home)
        before = len(access_log(site))
        no_reason = sam.post(f"/calls/{site.card_call}/original", data={"reason": "  ", "csrf": token})
        assert no_reason.status_code == 400 and "needs a reason" in no_reason.text
        granted = sam.post(f"/calls/{site.card_call}/original", data={"reason": "chargeback 1182", "csrf": token})
        assert granted.status_code == 303
        page = sam.get(granted.headers["location"])
        assert "chargeback 1182" in page.text
        original = sam.get(granted.headers["location"] + "/audio?download=1")
        assert original.status_code == 200 and original.headers["content-type"] == "audio/wav"
        assert "attachment" in original.headers["content-disposition"]
        heard = " ".join(_words(original.content))
        assert "four one one one" in heard  # the original is the unredacted call
        new = access_log(site)[before:]
        assert [(e["action"], e["actor"], e["reason"]) for e in new] == [
            ("console_original_refused", "sam", None), ("console_original", "sam", "chargeback 1182"),
            ("export_original", "sam", "chargeback 1182")]
        assert new[-1]["session_id"] == site.card_call
        assert {p for p in files_under(site.home) - before_files if not p.startswith("recorder.db")} == set()


def test_no_redacted_value_in_anything_an_auditor_can_fetch(site: Site) -> None:
    with sign_in(site.url, "alice") as alice:
        for path in [*_pages(site), *_apis(site), f"/calls/{site.plain_call}", f"/api/calls/{site.plain_call}"]:
            r = alice.get(path, follow_redirects=True)
            assert r.status_code == 200, path
            if path.endswith("/audio"):
                words = " ".join(_words(r.content))
                assert "card number please" in words  # the decoder reads this audio...
                assert not any(n in words for n in CARD_NEEDLES)  # ...and finds no card digits
                continue
            body = r.text.lower()
            assert not any(n in body for n in CARD_NEEDLES), path
        call = alice.get(f"/api/calls/{site.card_call}").json()
        assert [t["text"] for t in call["transcript"]["turns"]][-2] == "it is [CREDIT_CARD]"
        assert {s["type"] for s in call["transcript"]["redaction_spans"]} == {"CREDIT_CARD"}
        download = alice.get(f"/calls/{site.card_call}/audio?download=1")
        assert not any(n in " ".join(_words(download.content)) for n in CARD_NEEDLES)


def test_the_player_can_seek_in_the_redacted_audio(site: Site) -> None:
    with sign_in(site.url, "alice") as alice:
        whole = alice.get(f"/calls/{site.card_call}/audio")
        part = alice.get(f"/calls/{site.card_call}/audio", headers={"range": "bytes=1000-1999"})
        assert part.status_code == 206 and part.content == whole.content[1000:2000]
        assert part.headers["content-range"] == f"bytes 1000-1999/{len(whole.content)}"
        tail = alice.get(f"/calls/{site.card_call}/audio", headers={"range": "bytes=-10"})
        assert tail.content == whole.content[-10:]
        past = alice.get(f"/calls/{site.card_call}/audio", headers={"range": f"bytes={len(whole.content)}-"})
        assert past.status_code == 416


def test_json_twins_filter_and_page_and_refuse_bad_parameters(site: Site) -> None:
    with sign_in(site.url, "alice") as alice:
        every = alice.get("/api/calls").json()
        assert every["total"] == 2 and every["page"] == 1
        acme = alice.get("/api/calls", params={"tenant": "acme"}).json()
        assert [c["id"] for c in acme["calls"]] == [site.card_call]
        assert acme["calls"][0]["metadata"]["agent_id"] == "billing-bot" and acme["calls"][0]["transcribed"]
        assert alice.get("/api/calls", params={"agent": "greeter"}).json()["calls"][0]["id"] == site.plain_call
        said = alice.get("/api/calls", params={"q": "it is"}).json()  # the caller's card turn
        assert [c["id"] for c in said["calls"]] == [site.card_call]
        assert alice.get("/api/calls", params={"q": "zebra"}).json()["total"] == 0
        seconds = {c["id"]: c["duration_ms"] / 1000 for c in every["calls"]}
        middle = (seconds[site.card_call] + seconds[site.plain_call]) / 2
        longer = max(seconds, key=lambda k: seconds[k])
        assert [c["id"] for c in alice.get("/api/calls", params={"min_duration": middle}).json()["calls"]] == [longer]
        assert longer not in {c["id"] for c in alice.get("/api/calls", params={"max_duration": middle}).json()["calls"]}
        assert alice.get("/api/calls", params={"status": "incomplete"}).json()["total"] == 0
        assert alice.get("/api/calls", params={"since": "2000-01-01", "until": "2000-01-02"}).json()["total"] == 0
        assert alice.get("/api/calls", params={"page": "2"}).json()["calls"] == []
        for bad in ({"page": "0"}, {"since": "yesterday"}, {"status": "lost"}, {"q": "x" * 201},
                    {"max_duration": "-1"}):
            r = alice.get("/api/calls", params=bad)
            assert r.status_code == 400 and next(iter(bad)) in r.json()["error"], bad
        assert alice.get("/api/calls/no-such-call").status_code == 404
        assert alice.get("/api/calls/bad%0d%0aid").status_code == 404
        assert alice.get("/calls/bad%0d%0aid/audio").status_code == 404
        usage = alice.get("/api/usage").json()
        assert usage["totals"]["calls"] == 2
        assert {r["key"] for r in usage["tenants"]} == {"acme", "globex"}
        assert sum(r["total_tokens"] for r in usage["agents"]) == usage["totals"]["total_tokens"] > 0
        plain = alice.get(f"/api/calls/{site.plain_call}").json()
        assert plain["cuts"] == [{"response_id": r["id"], "at_ms": r["cut_ms"]} for r in plain["responses"]
                                 if r["cut_ms"] is not None] != []
        assert [t["name"] for t in plain["tool_calls"]] == ["lookup_order"]
        call = alice.get(f"/api/calls/{site.card_call}").json()
        assert call["integrity"]["ok"] and [m["version"] for m in call["integrity"]["manifests"]] == [1, 2]


def test_a_disabled_user_is_signed_out_at_the_next_request(site: Site) -> None:
    done = cli(site.home, site.database_url, "users", "add", "dora", "--role", "auditor",
               stdin="dora-reads-transcripts\n")
    assert done.returncode == 0, done.stderr
    with sign_in(site.url, "dora", "dora-reads-transcripts") as dora:
        assert dora.get("/api/usage").status_code == 200
        assert cli(site.home, site.database_url, "users", "disable", "dora").returncode == 0
        assert dora.get("/api/usage").status_code == 401
        with httpx.Client(base_url=site.url, timeout=30) as again:
            form = again.get("/login")
            r = again.post("/login", data={"username": "dora", "password": "dora-reads-transcripts",
                                           "csrf": csrf_of(form.text)})
            assert r.status_code == 401


def _attempt(client: httpx.Client, name: str, password: str) -> int:
    form = client.get("/login")
    return client.post("/login", data={"username": name, "password": password,
                                       "csrf": csrf_of(form.text)}).status_code


def test_five_wrong_passwords_throttle_the_user_not_everyone(site: Site) -> None:
    with running_console(site.home, site.database_url) as url, httpx.Client(base_url=url, timeout=30) as c:
        assert [_attempt(c, "alice", f"wrong-{i}") for i in range(5)] == [401] * 5
        r = c.get("/login")
        blocked = c.post("/login", data={"username": "alice", "password": PASSWORDS["alice"], "csrf": csrf_of(r.text)})
        assert blocked.status_code == 429 and "Too many failed sign-ins" in blocked.text
        assert _attempt(c, "sam", PASSWORDS["sam"]) == 303  # another user from the same address


def test_many_wrong_passwords_from_one_address_throttle_the_address(site: Site) -> None:
    with running_console(site.home, site.database_url) as url, httpx.Client(base_url=url, timeout=30) as c:
        assert {_attempt(c, f"guess{i}", "not-the-password") for i in range(20)} == {401}
        assert _attempt(c, "sam", PASSWORDS["sam"]) == 429


def test_behind_tls_the_session_cookie_is_secure(site: Site, tmp_path: Path) -> None:
    certs = make_localhost_cert(tmp_path / "tls")
    with running_console(site.home, site.database_url, "--certfile", str(certs.cert),
                         "--keyfile", str(certs.key)) as url:
        assert url.startswith("https://")
        with httpx.Client(base_url=url.replace("127.0.0.1", "localhost"), verify=ssl.create_default_context(cafile=str(certs.ca)),
                          follow_redirects=False, timeout=30) as c:
            login = c.get("/login")
            assert "Secure" in login.headers["set-cookie"]
            done = c.post("/login", data={"username": "alice", "password": PASSWORDS["alice"],
                                          "csrf": csrf_of(login.text)})
            session = next(h for h in done.headers.get_list("set-cookie") if h.startswith("recorder_session="))
            assert all(flag in session for flag in ("Secure", "HttpOnly", "SameSite=strict"))
            assert c.get("/api/usage").status_code == 200
