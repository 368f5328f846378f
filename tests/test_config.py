"""Training's configuration: grouped fields, kind-dependent defaults, and command-line options made from the fields."""
import dataclasses

import pytest

from sentiment.cli import build_parser
from sentiment.inference.kinds import KINDS
from sentiment.training.config import GROUPS, TrainConfig, from_arguments


def parse(*argv):
    return build_parser().parse_args(["train", *argv])


def test_no_option_given_is_the_configs_own_default():
    assert from_arguments(parse()).as_dict() == TrainConfig().as_dict()


def test_each_field_is_an_option_that_reaches_its_group(capsys):
    config = from_arguments(parse("--hidden-size", "32", "--encoder-lr", "1e-4", "--no-clauses", "--keep-mentions",
                                  "--counterfactual-weight", "3", "--transfer", "mask", "--text-field", "review"))
    assert config.model.hidden_size == 32 and config.optimisation.encoder_lr == 1e-4
    assert config.model.clauses is False and config.words.drop_mentions is False
    assert config.augmentation.counterfactual_weight == 3.0 and config.distillation.transfer == ("mask",)
    assert config.data.text_field == "review"
    with pytest.raises(SystemExit):
        parse("--help")
    flags = set(capsys.readouterr().out.split())
    for cls in GROUPS.values():
        for f in dataclasses.fields(cls):
            named = f.metadata["flag"] or ("--no-" if f.default is True else "--") + f.name.replace("_", "-")
            assert named in flags, f.name


def test_defaults_that_depend_on_the_kind_come_from_its_recipe_and_the_help_says_so(capsys):
    for name, kind in KINDS.items():
        config = TrainConfig(encoder=name)
        assert (config.optimisation.epochs, config.optimisation.batch_size, config.model.dropout,
                config.augmentation.counterfactual_weight) == (kind.recipe.epochs, kind.recipe.batch_size,
                                                               kind.recipe.dropout, kind.recipe.counterfactual_weight)
    distilled = TrainConfig(encoder="glove", teacher="models/default")
    assert distilled.optimisation.epochs == KINDS["glove"].recipe.distil_epochs
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    for name, kind in KINDS.items():
        assert f"{kind.recipe.epochs} for {name}" in shown and f"{kind.recipe.batch_size} for {name}" in shown
    assert "(default: 0.001)" in shown and "(default: 5e-05)" in shown


def test_an_unknown_option_is_named():
    with pytest.raises(TypeError, match=r"unknown options \['hidden'\]"):
        TrainConfig(hidden=3)
