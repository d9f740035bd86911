"""The official openai Python SDK drives reelforge's webhook endpoints unchanged: create (the secret shown once),
retrieve, list with auto-pagination, update, rotate_secret with and without keep_old_secret_active_for_24_hours,
test against a receiver on 127.0.0.1 (run here, in a thread) whose deliveries the SDK's own verify_signature checks,
a 301 reported and not followed, a private-address URL refused, and delete.

Run by test/api/openaiPythonWebhooks.test.ts against a server with WEBHOOK_ALLOWED_HOSTS=127.0.0.1:
REELFORGE_BASE_URL (…/v1) and REELFORGE_API_KEY.
"""

import http.server
import os
import threading

import openai
import pytest


class Receiver:
    def __init__(self):
        self.received = []
        self.status = 200
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.received.append((self.path, dict(self.headers.items()), body))
                self.send_response(receiver.status)
                if 300 <= receiver.status < 400:
                    self.send_header("location", "/elsewhere")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def client():
    return openai.OpenAI(base_url=os.environ["REELFORGE_BASE_URL"], api_key=os.environ["REELFORGE_API_KEY"], max_retries=0)


@pytest.fixture(scope="module")
def receiver():
    r = Receiver()
    yield r
    r.server.shutdown()


@pytest.fixture(scope="module")
def endpoint(client, receiver):
    return client.webhooks.create(name="python hook", url=receiver.url, event_types=["video.completed", "video.failed"])


def verifies(client, delivery, secret):
    _, headers, body = delivery
    try:
        client.webhooks.verify_signature(body, headers, secret=secret)
        return True
    except openai.InvalidWebhookSignatureError:
        return False


def test_create_shows_the_secret_once_and_retrieve_shows_its_hint(client, endpoint, receiver):
    assert endpoint.object == "webhook_endpoint"
    assert endpoint.signing_secret.startswith("whsec_")
    assert endpoint.signing_secret_hint == "whsec_..." + endpoint.signing_secret[-4:]
    got = client.webhooks.retrieve(endpoint.id)
    assert (got.id, got.name, got.url, got.event_types) == (endpoint.id, "python hook", receiver.url, ["video.completed", "video.failed"])
    assert got.signing_secret_hint == endpoint.signing_secret_hint
    assert "signing_secret" not in got.model_dump()


def test_list_auto_paginates_newest_first(client, receiver, endpoint):
    more = [client.webhooks.create(name=f"hook {i}", url=receiver.url, event_types=["video.blocked"]).id for i in range(3)]
    ids = [e.id for e in client.webhooks.list(limit=2)]
    assert ids[:3] == list(reversed(more))
    assert endpoint.id in ids and len(ids) == len(set(ids))


def test_update_changes_what_it_is_given(client, endpoint):
    updated = client.webhooks.update(endpoint.id, name="renamed", event_types=["video.cancelled", "cameo.access_revoked"])
    assert (updated.name, updated.event_types) == ("renamed", ["video.cancelled", "cameo.access_revoked"])
    assert updated.updated_at >= endpoint.updated_at


def test_test_delivers_a_signed_event_the_sdk_verifies(client, endpoint, receiver):
    receiver.status = 200
    result = client.webhooks.test(endpoint.id, event_type="video.completed")
    assert (result.object, result.webhook_endpoint_id, result.event_type, result.status_code, result.success) == (
        "webhook_endpoint.test", endpoint.id, "video.completed", 200, True)
    path, headers, body = receiver.received[-1]
    assert path == "/hooks"
    event = client.webhooks.unwrap(body, headers, secret=endpoint.signing_secret)
    assert (event.type, event.object) == ("video.completed", "event")
    assert event.data.id.startswith("video_")


def test_a_301_is_reported_and_not_followed(client, endpoint, receiver):
    receiver.status = 301
    before = len(receiver.received)
    assert client.webhooks.test(endpoint.id, event_type="video.failed").status_code == 301
    assert len(receiver.received) == before + 1
    receiver.status = 200


def test_rotate_secret_with_and_without_keeping_the_old_one(client, endpoint, receiver):
    kept = client.webhooks.rotate_secret(endpoint.id, keep_old_secret_active_for_24_hours=True)
    assert kept.signing_secret != endpoint.signing_secret
    client.webhooks.test(endpoint.id, event_type="video.completed")
    assert verifies(client, receiver.received[-1], kept.signing_secret)
    assert verifies(client, receiver.received[-1], endpoint.signing_secret)

    dropped = client.webhooks.rotate_secret(endpoint.id)
    client.webhooks.test(endpoint.id, event_type="video.completed")
    assert verifies(client, receiver.received[-1], dropped.signing_secret)
    assert not verifies(client, receiver.received[-1], kept.signing_secret)
    assert not verifies(client, receiver.received[-1], endpoint.signing_secret)


def test_a_private_address_is_refused_at_creation(client):
    with pytest.raises(openai.UnprocessableEntityError) as refused:
        client.webhooks.create(name="internal", url="https://10.1.2.3/hook", event_types=["video.completed"])
    assert refused.value.code == "webhook_url_refused"
    assert "private address" in refused.value.message


def test_delete_then_retrieve_is_not_found(client, receiver):
    doomed = client.webhooks.create(name="doomed", url=receiver.url, event_types=["video.completed"])
    deleted = client.webhooks.delete(doomed.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (doomed.id, "webhook_endpoint.deleted", True)
    with pytest.raises(openai.NotFoundError):
        client.webhooks.retrieve(doomed.id)
