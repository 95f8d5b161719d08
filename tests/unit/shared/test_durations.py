import pytest

from shared.durations import parse_duration


@pytest.mark.parametrize(
    "text, seconds",
    [("500ms", 0.5), ("5s", 5.0), ("1m", 60.0), ("1m30s", 90.0), ("2h", 7200.0),
     ("1.5s", 1.5), ("250us", 0.00025), ("0", 0.0), (3, 3.0), (0.25, 0.25)],
)
def test_reference_duration_forms(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["5", "five seconds", "5 s", "-1s", "1d", True, [1], -2])
def test_bad_durations_are_refused(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)
