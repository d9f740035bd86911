"""The official openai Python SDK, pointed at reelforge, drives the Videos API unchanged: create_and_poll (with an
input_reference image), download_content of every variant, remix, extend and edit with a downloaded MP4 (the SDK
sends it as a multipart file), list with auto-pagination, delete, and errors raised as the SDK's exception classes.

Run by test/api/openaiPython.test.ts against a real stack: REELFORGE_BASE_URL (…/v1) and REELFORGE_API_KEY.
"""

import os
import struct
import zlib

import openai
import pytest

SIZE = "256x256"
POLL_MS = 250


def png_stripes(colours, stripe_width=64, height=64):
    """A PNG of vertical stripes, left to right: the backdrop of the first video."""
    width = stripe_width * len(colours)
    row = b"".join(bytes(colours[x // stripe_width]) for x in range(width))
    raw = b"".join(b"\x00" + row for _ in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def client():
    return openai.OpenAI(base_url=os.environ["REELFORGE_BASE_URL"], api_key=os.environ["REELFORGE_API_KEY"], max_retries=0)


@pytest.fixture(scope="module")
def source(client):
    backdrop = png_stripes([(200, 40, 40), (40, 160, 60), (40, 60, 200)])
    return client.videos.create_and_poll(
        prompt="two red balls bouncing",
        seconds="4",
        size=SIZE,
        input_reference=("backdrop.png", backdrop, "image/png"),
        poll_interval_ms=POLL_MS,
    )


@pytest.fixture(scope="module")
def source_mp4(client, source):
    return client.videos.download_content(source.id).content


@pytest.fixture(scope="module")
def derived(client, source, source_mp4):
    """A remix, an extension and an edit of the source, submitted together so the GPU worker renders them back to back."""
    upload = ("source.mp4", source_mp4, "video/mp4")
    return {
        "remix": client.videos.remix(source.id, prompt="make them blue"),
        "extension": client.videos.extend(prompt="they keep bouncing", seconds="4", video=upload),
        "edit": client.videos.edit(prompt="add rain", video=upload),
    }


def completed(client, video):
    done = client.videos.poll(video.id, poll_interval_ms=POLL_MS)
    assert done.status == "completed", f"video {video.id} ended {done.status}: {done.error}"
    return done


def test_create_and_poll_with_an_input_reference_image_completes_at_the_size_and_length_asked(source):
    assert source.status == "completed"
    assert (source.size, source.seconds, source.progress) == (SIZE, "4", 100)
    assert source.id.startswith("video_")


def test_download_content_gives_the_mp4_its_thumbnail_and_its_spritesheet(client, source, source_mp4):
    assert source_mp4[4:8] == b"ftyp"
    for variant in ("thumbnail", "spritesheet"):
        image = client.videos.download_content(source.id, variant=variant).content
        assert image[:3] == b"\xff\xd8\xff", f"{variant} is not a JPEG"


def test_remix_makes_a_new_video_from_the_source(client, source, derived):
    remix = completed(client, derived["remix"])
    assert (remix.remixed_from_video_id, remix.prompt, remix.size) == (source.id, "make them blue", SIZE)


def test_extend_with_the_downloaded_mp4_continues_that_video(client, source, source_mp4, derived):
    extension = completed(client, derived["extension"])
    assert (extension.extended_from_video_id, extension.seconds) == (source.id, "8")
    longer = client.videos.download_content(extension.id).content
    assert longer[4:8] == b"ftyp" and len(longer) > len(source_mp4)


def test_edit_with_the_downloaded_mp4_edits_that_video(client, source, derived):
    edit = completed(client, derived["edit"])
    assert (edit.remixed_from_video_id, edit.prompt) == (source.id, "add rain")


def test_list_auto_paginates_over_every_video_once(client, source, derived):
    first = client.videos.list(limit=2)
    assert len(first.data) == 2 and first.has_next_page()
    ids = [video.id for video in client.videos.list(limit=2)]
    assert len(ids) == len(set(ids))
    assert {source.id, *(video.id for video in derived.values())} <= set(ids)


def test_delete_removes_the_video(client, derived):
    deleted = client.videos.delete(derived["edit"].id)
    assert (deleted.id, deleted.deleted) == (derived["edit"].id, True)
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(derived["edit"].id)


def test_errors_are_the_sdks_exception_classes_with_our_code_and_param(client):
    with pytest.raises(openai.NotFoundError) as missing:
        client.videos.retrieve("video_" + "0" * 32)
    assert missing.value.code == "video_not_found"

    with pytest.raises(openai.BadRequestError) as empty:
        client.videos.create(prompt="", seconds="4", size=SIZE)
    assert empty.value.param == "prompt"

    # The form is right and the bytes are no image: 422, as for every content refusal.
    with pytest.raises(openai.UnprocessableEntityError) as not_an_image:
        client.videos.create(prompt="two balls", size=SIZE, input_reference=("backdrop.png", b"GIF89a not a png", "image/png"))
    assert not_an_image.value.param == "input_reference"

    stranger = openai.OpenAI(base_url=os.environ["REELFORGE_BASE_URL"], api_key="rf_not-a-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        stranger.videos.list()

    foreign = ("elsewhere.mp4", b"\x00\x00\x00\x18ftypmp42" + os.urandom(2048), "video/mp4")
    with pytest.raises(openai.UnprocessableEntityError) as extend_foreign:
        client.videos.extend(prompt="more", seconds="4", video=foreign)
    with pytest.raises(openai.UnprocessableEntityError) as edit_foreign:
        client.videos.edit(prompt="blue", video=foreign)
    for raised in (extend_foreign.value, edit_foreign.value):
        assert (raised.code, raised.param) == ("unknown_video_file", "video")
