"""The console-read header: made from http.secret, checked by the registry, short-lived."""

from shared.console_reads import VALID_FOR_SECONDS, console_read_token, is_console_read

SECRET = "the-http-secret"


def test_a_fresh_token_is_a_console_read():
    assert is_console_read(console_read_token(SECRET), SECRET)


def test_the_token_does_not_contain_the_secret():
    assert SECRET not in console_read_token(SECRET)


def test_another_secret_a_tampered_or_a_missing_token_is_not():
    token = console_read_token(SECRET, now=1_000_000)
    assert not is_console_read(token, "another-secret", now=1_000_000)
    stamp, mac = token.split(".")
    assert not is_console_read(f"{int(stamp) + 1}.{mac}", SECRET, now=1_000_000)
    flipped = mac[:-1] + ("0" if mac[-1] != "0" else "1")
    assert not is_console_read(f"{stamp}.{flipped}", SECRET, now=1_000_000)
    assert not is_console_read(None, SECRET)
    assert not is_console_read("", SECRET)
    assert not is_console_read("garbage", SECRET)
    assert not is_console_read(token, None, now=1_000_000)


def test_a_token_expires():
    token = console_read_token(SECRET, now=1_000_000)
    assert is_console_read(token, SECRET, now=1_000_000 + VALID_FOR_SECONDS)
    assert not is_console_read(token, SECRET, now=1_000_000 + VALID_FOR_SECONDS + 1)
    assert not is_console_read(token, SECRET, now=1_000_000 - VALID_FOR_SECONDS - 1)
