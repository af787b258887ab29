"""The bundled pack says what the IWF's One Step Ahead briefing says, and no more.

FACTS is taken from the briefing itself (the charity's copy, one-step-ahead-briefing.txt):
for each ask, the figure, what it counts, the time it covers and where the briefing
says it. The pack is held to it word for word where it matters: a changed number, a
year the briefing does not give, or a claim an outside reader once caught fails here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from campaigns.packs import BUNDLED_PACKS, Ask, PackError, load_pack

BUNDLED = BUNDLED_PACKS / "one-step-ahead.toml"
SOURCE = "Internet Watch Foundation, One Step Ahead"
SOURCE_URL = "https://www.iwf.org.uk/"
# The briefing prints no date (it looks back on 2023 and on "the last Parliament",
# and speaks to the new one): no card may give it a year it doesn't print.
BRIEFING_YEAR = None
WRITE_TO_MP = "https://www.writetothem.com/"
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
YEAR = re.compile(r"\b(?:19|20)\d\d\b")


@dataclass(frozen=True)
class Fact:
    """One ask's statistic as the briefing gives it."""

    figure: str
    counts: tuple[str, ...]  # words the sentence must use to say what the figure counts
    period: str | None  # the time the figure covers; None when the briefing gives none
    numbers: frozenset[str]  # every number the ask may show anywhere
    passage: str  # where the briefing says it


FACTS: dict[str, Fact] = {
    "ai-images": Fact(
        figure="20,254",
        counts=(
            "AI-generated images of children",
            "IWF analysts",
            "one dark web forum",
            "single month",
            "2,978",
            "illegal under UK law",
        ),
        period="a single month (not dated)",
        numbers=frozenset({"20,254", "2,978"}),
        passage="p. 1, Prevent AI images of child abuse spreading online: 'our analysts "
        "detected a total of 20,254 … in a one-month period. Of these, 2,978 were found "
        "to be illegal' (no month or year given)",
    ),
    "pre-screening": Fact(
        figure="18% → 0.04%",
        counts=("UK hosted", "18%", "world's online child sexual abuse imagery", "0.04%"),
        period="1996 to 2018",
        numbers=frozenset({"18", "0.04", "1996", "2018"}),
        passage="p. 5, Prevent illegal content – before it gets online: 'When the IWF was "
        "set up in 1996, the UK hosted 18 % of the worldwide total … By 2018, the figure "
        "was 0.04 %.' The IWF is 'proud of this success story'; its job is 'hunting down "
        "and removing' the imagery (introduction)",
    ),
    "age-verification": Fact(
        figure="2,401",
        counts=("'Self-generated' images and videos", "children aged three to six", "IWF"),
        period="2023",
        numbers=frozenset({"2,401", "2023"}),
        passage="p. 2, Legislate for age verification to protect children: 'In 2023 alone, "
        "we found 2,401 'self-generated' images and videos of abuse involving children "
        "aged between 3 and 6'",
    ),
    "encrypted-messaging": Fact(
        figure="92%",
        counts=("child sexual abuse imagery discovered", "'self-generated'", "coerced"),
        period="now (no year given)",
        numbers=frozenset({"92", "122"}),  # 122: the Online Safety Act's section
        passage='introduction: \'92% of the imagery discovered now shows "self-generated" '
        "child abuse'; p. 3, Ensure no hiding place for abusers in encrypted messages: E2EE "
        "'potentially poses a huge risk in the distribution and coercion of children'; "
        "'Section 122 of the Online Safety Act'",
    ),
    "mandatory-reporting": Fact(
        figure="Most of Europe, Canada and Australia",
        counts=("'mandatory reporting'", "legal duty", "report child abuse", "referred"),
        period=None,
        numbers=frozenset(),
        passage="p. 4, Introduce mandatory reporting of suspected child sexual abuse: "
        "'Several countries – including the majority of Europe, Canada and Australia – "
        'have introduced so-called "mandatory reporting"\'; there, more referrals and more '
        "children identified as needing protection (the section has no number)",
    ),
}

# What an outside reader found the pack claiming that the briefing does not say.
WRONG: dict[str, tuple[str, ...]] = {
    "ai-images": ("2023",),  # the briefing does not date the month
    "pre-screening": ("prevention works", "known imagery", "share of the world's known"),
    "encrypted-messaging": ("can still scan", "because platforms"),
    "mandatory-reporting": ("390,000", "reports were assessed"),
}


@pytest.fixture(scope="module")
def asks() -> dict[str, Ask]:
    return {ask.id: ask for ask in load_pack(BUNDLED).asks}


def shown(ask: Ask) -> str:
    """Everything of an ask a supporter reads."""
    stat = ask.statistic
    return "\n".join((ask.title, ask.ask, ask.reminder or "", stat.figure, stat.sentence))


def test_every_ask_has_its_fact_and_keeps_its_id(asks: dict[str, Ask]) -> None:
    assert list(asks) == list(FACTS)


@pytest.mark.parametrize("ask_id", FACTS)
def test_the_statistic_is_the_briefings(asks: dict[str, Ask], ask_id: str) -> None:
    stat, fact = asks[ask_id].statistic, FACTS[ask_id]
    assert stat.figure == fact.figure, fact.passage
    assert stat.period == fact.period, fact.passage
    assert stat.year is BRIEFING_YEAR  # the briefing prints no date: none is shown
    assert (stat.source, stat.url) == (SOURCE, SOURCE_URL)


@pytest.mark.parametrize("ask_id", FACTS)
def test_the_sentence_says_what_the_figure_counts(asks: dict[str, Ask], ask_id: str) -> None:
    sentence, fact = asks[ask_id].statistic.sentence, FACTS[ask_id]
    for words in fact.counts:
        assert words.casefold() in sentence.casefold(), (words, fact.passage)
    # The card shows only the briefing's year, so the years the figure covers are in
    # the sentence, and no other year is.
    assert set(YEAR.findall(sentence)) == set(YEAR.findall(fact.period or ""))


@pytest.mark.parametrize("ask_id", FACTS)
def test_every_number_shown_comes_from_the_briefing(asks: dict[str, Ask], ask_id: str) -> None:
    assert set(NUMBER.findall(shown(asks[ask_id]))) <= FACTS[ask_id].numbers


@pytest.mark.parametrize("ask_id", WRONG)
def test_what_the_briefing_never_said_is_gone(asks: dict[str, Ask], ask_id: str) -> None:
    text = shown(asks[ask_id]).casefold()
    for phrase in WRONG[ask_id]:
        assert phrase not in text, phrase


def test_no_fall_is_credited_to_prevention(asks: dict[str, Ask]) -> None:
    """18% → 0.04% is the IWF's success at finding and removing; not pre-screening's."""
    sentence = asks["pre-screening"].statistic.sentence.casefold()
    assert "prevent" not in sentence and "pre-screen" not in sentence
    assert "finding and removing" in sentence


def test_every_ask_has_an_https_link_to_act(asks: dict[str, Ask]) -> None:
    for ask in asks.values():
        assert ask.link.url.startswith("https://"), ask.id
        if "your MP" in ask.ask:  # an ask to write to an MP links to where you do it
            assert ask.link.url == WRITE_TO_MP, ask.id


def test_a_pack_without_periods_still_loads(tmp_path: Path) -> None:
    """Packs written before `period` existed keep loading, with the same years."""
    text = re.sub(r'^period = ".*"\n', "", BUNDLED.read_text(), flags=re.MULTILINE)
    assert "period =" not in text
    path = tmp_path / "older.toml"
    path.write_text(text)
    older = load_pack(path).asks
    assert all(ask.statistic.period is None for ask in older)
    assert [ask.statistic.year for ask in older] == [BRIEFING_YEAR] * len(FACTS)


def test_a_period_whose_year_the_sentence_hides_is_named(tmp_path: Path) -> None:
    path = tmp_path / "hidden.toml"
    path.write_text(BUNDLED.read_text().replace('period = "2023"', 'period = "2022 and 2023"'))
    with pytest.raises(PackError) as caught:
        load_pack(path)
    assert caught.value.problems == [
        "ask 'age-verification' (#3), field statistic: the sentence must say 2022 (from "
        "period): supporters see only the sentence and the source's year"
    ]


# The journey around the asks: welcome messages, next steps and polls add no figure and
# no claim of their own beyond what the briefing says (its introduction, quoted here).
BRIEFING_INTRO = (
    "Over the past five years, the Internet Watch Foundation (IWF) has removed over one "
    "million web pages showing child sexual abuse images and videos."
)
WELCOME_FACTS = {  # our words → the briefing's
    "over the past five years": "Over the past five years",
    "removed over one million web pages": "removed over one million web pages",
}
EMERGENCY = {"999"}  # the emergency number, which every safeguarding answer gives


def journey_texts() -> list[str]:
    pack = load_pack(BUNDLED)
    texts = [message.text for message in pack.campaign.welcome]
    for ask in pack.asks:
        if ask.next:
            texts.append(ask.next.text)
        if ask.poll:
            texts += [ask.poll.question, *ask.poll.answers]
    return texts


def test_the_journey_adds_no_figure_of_its_own() -> None:
    for text in journey_texts():
        assert set(NUMBER.findall(text)) <= EMERGENCY, text


def test_the_welcome_says_only_what_the_briefing_says() -> None:
    welcome = load_pack(BUNDLED).campaign.welcome
    said = " ".join(" ".join(m.text for m in welcome).split())
    for ours, theirs in WELCOME_FACTS.items():
        assert ours in said and theirs in BRIEFING_INTRO
    assert str(welcome[-1].link.url if welcome[-1].link else "") == "https://report.iwf.org.uk/"
