"""Campaign packs: the bundled pack is good; every kind of broken field is named."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from campaigns.packs import BUNDLED_PACKS, PackError, load_pack, load_packs
from cli import app

BUNDLED = BUNDLED_PACKS / "one-step-ahead.toml"


def broken(tmp_path: Path, old: str, new: str, *, count: int = 1) -> Path:
    text = BUNDLED.read_text()
    assert old in text, old
    path = tmp_path / "broken.toml"
    path.write_text(text.replace(old, new, count))
    return path


def problems(path: Path) -> str:
    with pytest.raises(PackError) as caught:
        load_pack(path)
    message = str(caught.value)
    assert str(path) in message
    return message


def test_bundled_pack_has_five_asks_each_with_statistic_and_https_link() -> None:
    pack = load_pack(BUNDLED)
    assert pack.campaign.slug == "one-step-ahead"
    assert len(pack.asks) == 5
    assert len(pack.topics) == 5
    for ask in pack.asks:
        assert ask.statistic.figure and ask.statistic.sentence and ask.statistic.source
        assert ask.link.url.startswith("https://")
        assert len(ask.ask) <= 400
    allowed = {"www.iwf.org.uk", "report.iwf.org.uk", "www.writetothem.com"}
    hosts = {ask.link.url.split("/")[2] for ask in pack.asks}
    hosts |= {ask.statistic.url.split("/")[2] for ask in pack.asks}
    assert hosts <= allowed


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            'url = "https://www.writetothem.com/"',
            'url = "http://www.writetothem.com/"',
            "ask 'ai-images' (#1), field link.url: must be an https:// link",
        ),
        (
            'url = "https://www.writetothem.com/"',
            'url = "not a link"',
            "ask 'ai-images' (#1), field link.url",
        ),
        ('figure = "2,401"', "", "ask 'age-verification' (#3), field statistic.figure: is missing"),
        (
            'period = "1996 to 2018"',
            'year = 1850\nperiod = "1996 to 2018"',
            "ask 'pre-screening' (#2), field statistic.year",
        ),
        ('topic = "ai"', 'topic = "AI Images!"', "ask 'ai-images' (#1), field topic"),
        (
            'label = "Write to your MP"',
            'label = "Write to your MP"\ncolour = "red"',
            "ask 'ai-images' (#1), field link.colour: is not a known field",
        ),
        ('id = "pre-screening"', 'id = "ai-images"', "ask id 'ai-images' is used twice"),
        (
            'timezone = "Europe/London"',
            'timezone = "Europe/Atlantis"',
            "campaign, field schedule.timezone: 'Europe/Atlantis' is not an IANA time zone",
        ),
        ('weekday = "tuesday"', 'weekday = "caturday"', "campaign, field schedule.weekday"),
        ('time = "18:30"', 'time = "25:99"', "campaign, field schedule.time"),
        ('title = "One Step Ahead"', 'title = ""', "campaign, field title"),
        (
            'title = "Make age checks real for children online"',
            'title = "Bell\\u0007 rings"',
            "ask 'age-verification' (#3), field title: contains a control character (U+0007)",
        ),
    ],
)
def test_broken_field_is_named(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert expected in problems(broken(tmp_path, old, new))


def test_ask_too_long_for_a_phone(tmp_path: Path) -> None:
    start = "Write to your MP and ask them to press"
    message = problems(broken(tmp_path, start, "word " * 80 + start))
    assert "ask 'ai-images' (#1), field ask: is 623 characters long; at most 400 fit" in message


def test_missing_ask_id_names_the_ask_by_number(tmp_path: Path) -> None:
    message = problems(broken(tmp_path, 'id = "encrypted-messaging"\n', ""))
    assert "ask #4, field id: is missing" in message


def test_not_toml(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[campaign\nslug = ")
    assert "not valid TOML" in problems(path)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_bytes(b"\xff\xfe[campaign]")
    assert "not UTF-8" in problems(path)


def test_no_asks(tmp_path: Path) -> None:
    text = BUNDLED.read_text()
    path = tmp_path / "empty.toml"
    path.write_text(text[: text.index("[[asks]]")])
    assert "field asks: is missing" in problems(path)


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    path = broken(tmp_path, 'url = "https://www.writetothem.com/"', 'url = "ftp://x"', count=-1)
    text = path.read_text().replace('weekday = "tuesday"', 'weekday = "someday"')
    path.write_text(text)
    message = problems(path)
    assert "campaign, field schedule.weekday" in message
    assert "ask 'mandatory-reporting' (#5), field link.url" in message


def test_a_pack_with_the_older_action_table_loads_with_the_same_links(tmp_path: Path) -> None:
    """Charities keep packs in their own git: `[asks.action]` still means the link."""
    path = broken(tmp_path, "[asks.link]", "[asks.action]", count=-1)
    assert "[asks.link]" not in path.read_text()
    old, new = load_pack(path), load_pack(BUNDLED)
    assert [ask.link for ask in old.asks] == [ask.link for ask in new.asks]
    assert old == new


def test_an_older_pack_with_a_broken_link_names_the_key_it_used(tmp_path: Path) -> None:
    path = broken(tmp_path, "[asks.link]", "[asks.action]", count=-1)
    path.write_text(path.read_text().replace("https://www.writetothem.com/", "http://x.org/", 1))
    message = problems(path)
    assert "ask 'ai-images' (#1), field action.url: must be an https:// link" in message


def test_an_ask_without_a_link_says_the_link_is_missing(tmp_path: Path) -> None:
    path = broken(
        tmp_path,
        '[asks.link]\nlabel = "Write to your MP"\nurl = "https://www.writetothem.com/"\n',
        "",
    )
    assert "ask 'ai-images' (#1), field link: is missing" in problems(path)


BOTH = (
    "ask 'pre-screening' (#2): has both [asks.link] and [asks.action]; "
    "keep only [asks.link] (action is its older name)"
)


def test_an_ask_with_both_link_and_action_is_refused_in_one_line(tmp_path: Path) -> None:
    text = BUNDLED.read_text()
    second = text.index("[asks.link]", text.index('id = "pre-screening"'))
    extra = '[asks.action]\nlabel = "Old"\nurl = "https://www.iwf.org.uk/"\n\n'
    path = tmp_path / "both.toml"
    path.write_text(text[:second] + extra + text[second:])
    with pytest.raises(PackError) as caught:
        load_pack(path)
    assert caught.value.problems == [BOTH]
    result = CliRunner().invoke(app, ["campaigns", "check", str(path)])
    assert result.exit_code == 1
    assert BOTH in " ".join(result.output.split())  # rich wraps at the terminal's width
    assert "Traceback" not in result.output


def test_folder_with_two_packs_of_one_slug(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(BUNDLED.read_text())
    (tmp_path / "b.toml").write_text(BUNDLED.read_text())
    with pytest.raises(PackError, match="already used by another pack"):
        load_packs(tmp_path)


def test_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(PackError, match="holds no campaign packs"):
        load_packs(tmp_path)
