"""The one-pass name matcher gives exactly what one regex search per name gave (the rule
routing used before: a name counts standing alone, case-insensitively)."""

from __future__ import annotations

import random
import re

import pytest

from claude_tunnels.actors.tree.mentions import NameMatcher, fold


def old_rule(text: str, name: str) -> bool:
    # The rule as `actors.routing._mentions` had it: one search per name.
    return re.search(rf"(?<![\w/.-]){re.escape(name)}(?![\w/-])", text, flags=re.IGNORECASE) is not None


NAMES = [
    "web", "web-app", "web-app/frontend", "web-app/frontend/v2", "api", "API-gw", "infra", "shared-lib",
    "shared-lib/core", "a", "a/b", "x.y", "my app", "app", "web app", "Straße", "ſtuff", "stuff", "İzmir",
    "izmir", "Kelvin", "µsvc", "μsvc", "ΣΟΦΙΑ", "σοφια", "C++", "c", "data_2", "2fa", "snake_case", "über",
]

CASES = [
    "", "web", "WEB", "Web-App please", "fix the web-app/frontend login", "web-app/frontend/v2: go",
    "web-apps", "webapp", "web_app", "the web-app.", "web-app, infra and api", "(web) [api] {infra}",
    "see /web and web/ and .web and web. and -web and web-", "web-app/frontendx", "my web-app/frontend/",
    "deploy shared-lib/core then shared-lib", "shared-lib/core/extra", "a/b/c", "a/b", "b/a", "a.b a-b a_b",
    "x.y", "x.y.z", "ax.y", "my app and web app", "my  app", "web app/", "STRASSE straße STRAẞE",
    "stuff ſtuff STUFF", "izmir İZMİR ızmır", "KELVIN kelvin", "µSVC μsvc ΜSVC", "σοφιας ΣΟΦΙΑ σοφιΑ ςοφια",
    "c++ C++ c+", "c c# c.", "data_2 data_2x 2fa 2FA", "snake_case snake-case", "ÜBER über uber",
    "web\napi\tinfra", "\u00a0web\u00a0", "webé", "éweb", "web٣", "web‐app", "api/", "/api", "api.", ".api",
]


@pytest.mark.parametrize("text", CASES)
def test_the_matcher_agrees_with_one_search_per_name(text: str) -> None:
    expected = {name for name in NAMES if old_rule(text, name)}
    assert NameMatcher(NAMES).mentioned(text) == expected


def test_overlapping_mentions_are_all_found() -> None:
    matcher = NameMatcher(NAMES)
    assert matcher.mentioned("my app") == {"my app", "app"}
    assert matcher.mentioned("web app") == {"web app", "web", "app"}
    assert matcher.mentioned("web-app/frontend") == {"web-app/frontend"}  # `web-app` is inside a path there


def test_random_texts_from_the_names_agree_with_the_old_rule() -> None:
    rng = random.Random(17)
    pieces = [*NAMES, " ", " ", "/", ".", "-", "_", ",", ":", "x", "É", "\n"]
    matcher = NameMatcher(NAMES)
    for _ in range(2000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 8)))
        text = "".join(c.upper() if rng.random() < 0.3 else c for c in text)
        assert matcher.mentioned(text) == {name for name in NAMES if old_rule(text, name)}, text


def test_a_fold_keeps_positions() -> None:
    text = "İstanbul ſtraße"
    assert len(fold(text)) == len(text)
    assert fold("WEB-App") == "web-app"


def test_no_names_no_mentions() -> None:
    assert NameMatcher([]).mentioned("web") == set()
    assert NameMatcher(["web"]).mentioned("") == set()
