"""Chapter 6's ensemble: independently trained copies of a network that vote.

The ensemble is one Functional ``keras.Model``: the ``image`` input feeds every
member (nested models named ``member_1`` ... ``member_k``), and a
``PluralityVote`` layer turns their outputs into the vote. Members are trained
independently, each with its own optimizer: ``ensemble.get_layer("member_1")``
is a compiled model that shares its weights with the ensemble. The ensemble
itself is compiled for evaluation (its loss is the log-likelihood of the vote
distribution). The vote passes no gradient, so ``ensemble.fit`` stops with
"No gradients provided for any variable" instead of silently training the
members through the vote: train the members.
"""

from nnzoo import registry
from nnzoo.models import _common
from nnzoo.registry import BookResult, ModelCard, register
from nnzoo.seeds import member_seed


def build_ensemble(model_card, config):
    import keras  # noqa: PLC0415  (cards are data; Keras is needed only to build)

    from nnzoo import losses  # noqa: PLC0415
    from nnzoo.layers import PluralityVote  # noqa: PLC0415

    member_name = model_card.architecture["member"]
    member_overrides = {
        key: value
        for key, value in config.items()
        if key not in ("member", "n_members", "seed")
    }
    inputs = _common.image_input()
    outputs = []
    for index in range(1, config["n_members"] + 1):
        member = registry.build(member_name, seed=member_seed(config["seed"], index), **member_overrides)
        member.name = f"member_{index}"
        outputs.append(member(inputs))
    vote = PluralityVote(name="vote")(outputs)
    model = keras.Model(inputs, vote, name=model_card.name)
    if config["compile"]:
        model.compile(
            optimizer=keras.optimizers.SGD(learning_rate=config["eta"]),
            loss=losses.LogLikelihood(),
            metrics=[_common.accuracy_metric()],
        )
    return model


def _ensemble_card(name, member, n_members, book_result):
    member_card = registry.card(member)
    register(ModelCard(
        name=name,
        summary=f"{n_members} independently trained {member} networks voting by plurality.",
        chapter=member_card.chapter,
        book_code=member_card.book_code,
        book_call=f"{n_members} x [{member_card.book_call}], then a plurality vote",
        architecture={"member": member, "n_members": n_members, **member_card.architecture},
        recipe=member_card.recipe,
        params=n_members * member_card.params,
        book_result=book_result,
        builder=build_ensemble,
    ))


_ensemble_card(
    "conv2_dropout_ensemble", "conv2_dropout", 5,
    BookResult(99.67, "test", experiment="C6-12", source="Chapter 6, “Convolutional neural networks in practice”"),
)
