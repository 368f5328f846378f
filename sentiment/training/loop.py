"""Training's loop: length-bucketed batches, Adam, early stopping on dev, then the best epochs averaged and calibrated.

An encoder model (its kind fine_tunes) trains the pretrained encoder end to end beside the relation network:
its own learning rate, linear warm-up and decay, gradient clipping.
"""
import random
import sys
import time

import gluonnlp as nlp
import mxnet as mx
import numpy as np
from mxnet import autograd, gluon
from tqdm import tqdm

from ..evaluation.metrics import accuracy, fit_temperature, macro_f1


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    mx.random.seed(seed)


def predict_logits(model, batches, ctx):
    """(N, C) logits and (N,) labels over fixed evaluation batches."""
    logits, labels = [], []
    for arrays, y in batches:
        logits.append(model(*(mx.nd.array(a, ctx=ctx) for a in arrays))[0].asnumpy())
        labels.append(y)
    return np.concatenate(logits), np.concatenate(labels)



def dev_metric(logits, labels, metric="accuracy"):
    """The accuracy of (N, C) logits against (N,) labels (metric="macro_f1": the macro-averaged F1 instead)."""
    predicted = logits.argmax(axis=1)
    return accuracy(labels, predicted) if metric == "accuracy" else macro_f1(labels, predicted)


def dev_accuracies(model, dev_sets, ctx, metric="accuracy"):
    """{source: accuracy} on each dev file (metric="macro_f1": the macro-averaged F1 instead)."""
    return {name: dev_metric(*predict_logits(model, batches, ctx), metric) for name, batches in dev_sets.items()}



def rating_loss(predicted, targets, weights, config, ctx):
    """(B,) weighted squared error of the rating head; rows without a rating (NaN) count 0."""
    known = ~np.isnan(targets)
    target = mx.nd.array(np.clip(np.nan_to_num(targets), -1, 1), ctx=ctx)
    weight = weights.reshape((-1,)) * mx.nd.array(known.astype(np.float32), ctx=ctx)
    weight = weight * config.optimisation.rating_weight
    return weight * mx.nd.square(predicted - target)



def average_params(snapshots):
    """Element-wise mean of parameter snapshots ({name: NDArray})."""
    return {name: sum(s[name] for s in snapshots) / len(snapshots) for name in snapshots[0]}


def set_params(params, values):
    for name, p in params.items():
        p.set_data(values[name])



def mean_dev_accuracy(model, dev_sets, ctx, metric="accuracy"):
    """The selection score: the mean of the per-source dev accuracies (or macro-F1s), so each source has its say."""
    return float(np.mean(list(dev_accuracies(model, dev_sets, ctx, metric).values())))



def schedule(step, total, warmup):
    """The learning-rate factor at `step` of `total`: a linear warm-up over `warmup` of the steps, then linear decay."""
    ramp = max(1, int(round(warmup * total)))
    return step / ramp if step < ramp else max(0.0, (total - step) / max(1, total - ramp))


def batch_sampler(lengths, batch_size, fine_tune):
    """Training batches, shuffled every epoch. Encoder models: shuffled pools of 100 batches, each sorted by
    length (an epoch pads 2% of its pieces where 8 length buckets pad 19%); GloVe models: 8 length buckets."""
    if fine_tune:
        return nlp.data.SortedBucketSampler(lengths, batch_size, mult=100, shuffle=True)
    return nlp.data.FixedBucketSampler(lengths, batch_size, num_buckets=8, shuffle=True)


def backward_pass(model, loss_fn, prepared, indices, config, ctx):
    """Forward and backward on the training rows `indices`; returns their (B,) losses."""
    arrays = prepared.inputs.arrays([prepared.train_ids[i] for i in indices])
    y = mx.nd.array(prepared.train_targets[indices], ctx=ctx)
    weights = mx.nd.array(prepared.train_weights[indices], ctx=ctx).reshape((-1, 1))
    with autograd.record():
        outputs = model(*(mx.nd.array(a, ctx=ctx) for a in arrays))
        loss = loss_fn(outputs[0], y, weights)
        if model.rating_head:  # squared error on the rows that have a rating
            loss = loss + rating_loss(outputs[2], prepared.train_ratings[indices], weights, config, ctx)
    loss.backward()
    return loss


def clipped_update(trainer, trainable, rows, clip, ctx):
    """An encoder model's update: the global norm of the mean gradient clipped to `clip`, then Adam."""
    trainer.allreduce_grads()
    gluon.utils.clip_global_norm([p.grad(ctx) for p in trainable.values()], clip * rows)
    trainer.update(rows)


def run_epochs(config, model, prepared, ctx, log):
    """Train with early stopping on the mean of the per-source dev accuracies.

    Returns (history, snapshots): snapshots are the best (score, epoch, parameters), best first.
    """
    settings = config.optimisation
    params = model.collect_params()
    trainable = {name: p for name, p in params.items() if p.grad_req != "null"}
    fine_tune = config.kind.fine_tunes
    trainer = gluon.Trainer(trainable, "adam", {"learning_rate": settings.lr, "wd": settings.weight_decay})
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss(sparse_label=False)
    inputs = prepared.inputs
    sampler = batch_sampler([inputs.length(ids) for ids in prepared.train_ids], settings.batch_size, fine_tune)
    total_steps, step = len(sampler) * settings.epochs, 0
    bar = config.progress and sys.stderr.isatty()  # a log file or CI gets one line per epoch instead
    history, snapshots, waited = [], [], 0
    for epoch in range(1, settings.epochs + 1):
        epoch_start, total_loss, seen = time.time(), 0.0, 0
        batches = tqdm(sampler, desc=f"epoch {epoch}/{settings.epochs}", unit="batch", leave=False, disable=not bar)
        for indices in batches:
            loss = backward_pass(model, loss_fn, prepared, indices, config, ctx)
            if fine_tune:  # warm-up and decay; the global norm of the mean gradient clipped
                step += 1
                trainer.set_learning_rate(settings.lr * schedule(step, total_steps, settings.warmup))
                clipped_update(trainer, trainable, len(indices), settings.clip, ctx)
            else:
                trainer.step(len(indices))
            total_loss += float(loss.sum().asscalar())
            seen += len(indices)
            batches.set_postfix(loss=f"{total_loss / seen:.4f}")
        per_source = dev_accuracies(model, prepared.dev_sets, ctx, settings.select_metric)
        score = float(np.mean(list(per_source.values())))
        seconds = time.time() - epoch_start
        history.append({"epoch": epoch, "train_loss": round(total_loss / seen, 5), "dev_accuracy": round(score, 5),
                        "dev_per_source": {k: round(v, 5) for k, v in per_source.items()},
                        "seconds": round(seconds, 2), "sentences_per_second": round(seen / seconds, 1)})
        detail = "  ".join(f"{k} {v:.3f}" for k, v in per_source.items()) if len(per_source) > 1 else ""
        log(f"epoch {epoch}/{settings.epochs}: loss {total_loss / seen:.4f}  dev accuracy {score:.4f}  {detail}  "
            f"({seconds:.1f}s)")
        improved = not snapshots or score > snapshots[0][0]
        snapshots.append((score, epoch, {name: p.data().copy() for name, p in params.items()}))
        snapshots = sorted(snapshots, key=lambda s: (-s[0], s[1]))[: settings.average_best]
        waited = 0 if improved else waited + 1
        if waited >= settings.patience:
            log(f"early stop: dev accuracy has not improved for {settings.patience} epochs")
            break
    return history, snapshots


def average_and_calibrate(config, model, prepared, snapshots, ctx, log):
    """Keep the average of the best epochs if dev says it is no worse, else the best epoch; fit the temperature.

    Returns (mean dev score, epochs kept, best epoch, temperature, {source: dev score} of the model kept)."""
    settings = config.optimisation
    params = model.collect_params()
    best, best_epoch, final_params = snapshots[0]
    kept = [best_epoch]
    if len(snapshots) > 1:
        averaged = average_params([s[2] for s in snapshots])
        set_params(params, averaged)
        averaged_score = mean_dev_accuracy(model, prepared.dev_sets, ctx, settings.select_metric)
        epochs = sorted(s[1] for s in snapshots)
        if averaged_score >= best:
            log(f"kept the average of epochs {epochs}: dev accuracy {averaged_score:.4f} "
                f"(best single epoch {best_epoch}: {best:.4f})")
            best, final_params, kept = averaged_score, averaged, epochs
        else:
            log(f"kept the best single epoch {best_epoch} (dev accuracy {best:.4f}): the average of epochs "
                f"{epochs} scored {averaged_score:.4f}")
    set_params(params, final_params)
    dev = {name: predict_logits(model, batches, ctx) for name, batches in prepared.dev_sets.items()}
    temperature = 1.0
    if settings.calibrate:
        temperature = fit_temperature(np.concatenate([logits for logits, _ in dev.values()]),
                                      np.concatenate([labels for _, labels in dev.values()]))
        log(f"calibration: softmax temperature {temperature:.3f} (fitted on dev)")
    per_source = {name: dev_metric(logits, labels, settings.select_metric) for name, (logits, labels) in dev.items()}
    return best, kept, best_epoch, temperature, per_source
