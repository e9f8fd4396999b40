"""TrackerConfig from the environment: a misspelt SHOPSTREAM_TRACKER_* variable is an error
naming the nearest setting, never a setting silently left at its default."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shopstream.producers import TrackerConfig


def test_a_misspelt_variable_is_an_error_with_a_suggestion(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHOPSTREAM_TRACKER_LINGER_MSS", "5")
    with pytest.raises(
        ValidationError,
        match=r"SHOPSTREAM_TRACKER_LINGER_MSS \(did you mean SHOPSTREAM_TRACKER_LINGER_MS\?\)",
    ):
        TrackerConfig()


def test_every_unknown_variable_is_named_and_a_far_one_gets_no_guess(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHOPSTREAM_TRACKER_SPOOL_DIRR", "/tmp/spool")
    monkeypatch.setenv("shopstream_tracker_colour", "blue")  # names match case-insensitively
    with pytest.raises(ValidationError) as caught:
        TrackerConfig(topic="t")
    message = str(caught.value)
    assert "SHOPSTREAM_TRACKER_SPOOL_DIRR (did you mean SHOPSTREAM_TRACKER_SPOOL_DIR?)" in message
    assert "shopstream_tracker_colour" in message
    assert "colour (did you mean" not in message


def test_known_variables_still_configure_the_tracker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPSTREAM_TRACKER_LINGER_MS", "7")
    monkeypatch.setenv("shopstream_tracker_topic", "shop.events.test")
    monkeypatch.setenv("SHOPSTREAM_COLLECTOR_PORT", "9000")  # another component's prefix
    config = TrackerConfig()
    assert (config.linger_ms, config.topic) == (7, "shop.events.test")
