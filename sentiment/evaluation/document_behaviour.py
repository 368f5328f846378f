"""A behaviour suite for whole reviews, after CheckList (Ribeiro et al., 2020): texts of several sentences.

Written for this project and never trained or tuned on: the verdict's settings come from the dev
documents alone (bench/quality/documents.py). Capabilities, 40 texts each:
- a verdict after an opening that points the other way ("I wanted to love it. ... Sadly, it broke.");
- balanced praise and criticism with no verdict: mixed;
- factual descriptions: neutral;
- verdicts in negated form ("I would not hesitate to buy it again.").
"""
import itertools
import random

PRODUCTS = ["blender", "kettle", "vacuum", "headset", "printer", "toaster", "camera", "router"]
GOOD_OPENINGS = ["I really wanted to love this {p}.", "The {p} looks great out of the box.",
                 "Setup took five minutes and the manual is clear.", "The first week with the {p} was wonderful.",
                 "My sister raved about this {p}, so I bought one."]
BAD_OPENINGS = ["I almost returned this {p} on the first day.", "The box arrived dented and the manual is confusing.",
                "I was sceptical after reading the complaints about this {p}.",
                "The first week with the {p} was frustrating.", "Setup took an hour and two phone calls."]
MIDDLES = ["I have used it every day for a month.", "It replaced an older {p} of mine.",
           "It arrived on a Tuesday in a plain box."]
BAD_VERDICTS = ["Then it stopped working and support never replied.", "In the end it was a waste of money.",
                "Overall, I regret buying it.", "Sadly, it broke within a month.",
                "That said, it is going back to the shop tomorrow."]
GOOD_VERDICTS = ["But once it was set up, it has worked flawlessly.",
                 "Overall, it is the best purchase I have made this year.",
                 "In the end I loved it and would buy it again.", "Still, it does everything I need and more.",
                 "That said, I now use it every day and it is excellent."]
PROS = ["The screen is gorgeous and bright.", "The food was delicious.", "The acting is superb.",
        "The camera takes stunning photos.", "The staff were friendly and helpful.", "The sound is rich and clear."]
CONS = ["The battery dies before lunch.", "The service was painfully slow.", "The plot makes no sense at all.",
        "The software crashes every day.", "The room was dirty and noisy.", "The headband hurts after an hour."]
FACTS = ["The {p} has a 1.5 litre capacity.", "It comes in black, white and silver.", "The {p} weighs two kilograms.",
         "It was delivered on Monday.", "The cable is one metre long.", "The manual is printed in four languages.",
         "I bought the {p} in March.", "It runs on mains power.", "The {p} fits on a standard shelf."]
NEGATED_GOOD = ["I would not hesitate to buy it again.", "I have no regrets at all.", "I can't fault it.",
                "Nothing about it disappointed me.", "I do not regret buying it for a second.",
                "I could not be happier with it."]
NEGATED_BAD = ["I would not recommend it to anyone.", "I won't be buying from this brand again.",
               "It is not worth the money.", "I can't say I'd buy it again.", "I would never buy another one.",
               "It did not live up to the hype."]


def _sample(items, n, rng):
    items = sorted(set(items))
    return items if len(items) <= n else rng.sample(items, n)


def contrary_opening(rng, n):
    items = []
    for product, middle in itertools.product(PRODUCTS, MIDDLES):
        for opening, verdict in itertools.product(GOOD_OPENINGS, BAD_VERDICTS):
            items.append((" ".join([opening, middle, verdict]).format(p=product), "negative"))
        for opening, verdict in itertools.product(BAD_OPENINGS, GOOD_VERDICTS):
            items.append((" ".join([opening, middle, verdict]).format(p=product), "positive"))
    negative = _sample([i for i in items if i[1] == "negative"], n // 2, rng)
    return negative + _sample([i for i in items if i[1] == "positive"], n - len(negative), rng)


def balanced(rng, n):
    items = []
    for (pro, pro2), (con, con2) in itertools.product(itertools.combinations(PROS, 2), itertools.combinations(CONS, 2)):
        items.append((" ".join([pro, con, pro2, con2]), "mixed"))
        items.append((" ".join([con, pro, con2, pro2]), "mixed"))
    return _sample(items, n, rng)


def factual(rng, n):
    items = [(" ".join(facts).format(p=product), "neutral")
             for product in PRODUCTS for facts in itertools.permutations(FACTS, 3)]
    return _sample(items, n, rng)


def negated_verdict(rng, n):
    items = []
    for product, (fact, fact2) in itertools.product(PRODUCTS, itertools.combinations(FACTS, 2)):
        for verdict in NEGATED_GOOD:
            items.append((" ".join([fact, fact2, verdict]).format(p=product), "positive"))
        for verdict in NEGATED_BAD:
            items.append((" ".join([fact, fact2, verdict]).format(p=product), "negative"))
    positive = _sample([i for i in items if i[1] == "positive"], n // 2, rng)
    return positive + _sample([i for i in items if i[1] == "negative"], n - len(positive), rng)


CAPABILITIES = {"verdict after a contrary opening": contrary_opening, "balanced: mixed": balanced,
                "factual description: neutral": factual, "negated verdict": negated_verdict}


def suite(per_capability=40, seed=0):
    """{capability: [(text, expected label)]}, deterministic."""
    rng = random.Random(seed)
    return {name: make(rng, per_capability) for name, make in CAPABILITIES.items()}
