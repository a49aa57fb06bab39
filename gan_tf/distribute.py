"""Which `tf.distribute` strategy a run uses, and which process of a cluster writes.

`make_strategy(name)` turns `--strategy` into a strategy:

    auto          multi_worker when TF_CONFIG names more than one task, else mirrored when
                  more than one GPU is visible, else default (never probes for a TPU: that
                  needs a network lookup)
    default       TensorFlow's default strategy: one device
    mirrored      `MirroredStrategy` over every local GPU (one device on a CPU machine)
    multi_worker  `MultiWorkerMirroredStrategy` over the cluster in TF_CONFIG
    tpu           `TPUStrategy` on the TPU that `TPUClusterResolver()` finds

Under multi_worker every worker runs the same command; the chief (task "chief", or "worker" 0
when there is no chief) writes the run directory, the others train on a private copy of its
checkpoints that is deleted at the end. `is_chief` tells them apart.
"""

import contextlib
import hashlib
import json
import os

from gan_tf.names import STRATEGIES
from gan_tf.errors import UserError, check_choice, first_line

def cluster_spec():
    """The `cluster` dict of TF_CONFIG (`{}` without one); UserError if TF_CONFIG is not JSON."""
    text = os.environ.get("TF_CONFIG", "")
    if not text.strip():
        return {}
    try:
        config = json.loads(text)
        cluster = config.get("cluster", {})
        if not isinstance(cluster, dict):
            raise TypeError("cluster is not an object")
        return cluster
    except (ValueError, TypeError, AttributeError) as error:
        raise UserError(f"TF_CONFIG is not valid JSON of the form {{\"cluster\": {{\"worker\": "
                        f"[\"host:port\", ...]}}, \"task\": {{\"type\": \"worker\", "
                        f"\"index\": 0}}}} ({error}). Fix it or unset it.") from None


def _num_tasks(cluster):
    return sum(len(cluster.get(kind, [])) for kind in ("chief", "worker"))


def resolve(name):
    """The strategy `name` stands for ("auto" resolved); no TensorFlow device is created."""
    check_choice("strategy", name, STRATEGIES)
    if name != "auto":
        return name
    if _num_tasks(cluster_spec()) > 1:
        return "multi_worker"
    import tensorflow as tf

    return "mirrored" if len(tf.config.list_physical_devices("GPU")) > 1 else "default"


def make_strategy(name):
    """The `tf.distribute.Strategy` for `--strategy=name`. Raises UserError if unavailable."""
    import tensorflow as tf

    kind = resolve(name)
    if kind == "default":
        return tf.distribute.get_strategy()
    if kind == "mirrored":
        return tf.distribute.MirroredStrategy()
    if kind == "multi_worker":
        cluster = cluster_spec()
        if _num_tasks(cluster) < 1:
            raise UserError("--strategy=multi_worker needs TF_CONFIG naming the cluster, e.g. "
                            "TF_CONFIG='{\"cluster\": {\"worker\": [\"10.0.0.1:12345\", "
                            "\"10.0.0.2:12345\"]}, \"task\": {\"type\": \"worker\", \"index\": "
                            "0}}' on the first machine (index 1 on the second). See "
                            "docs/distributed.md.")
        # No collective timeout: a dead worker is found by TensorFlow's heartbeats (seconds),
        # while a timeout would also fail workers waiting for a chief that scores samples.
        return tf.distribute.MultiWorkerMirroredStrategy()
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as error:
        raise UserError(f"--strategy=tpu found no TPU ({first_line(error, 200)}). "
                        "Run on a TPU VM (or set TPU_NAME), or use --strategy=auto.") from None
    return tf.distribute.TPUStrategy(resolver)


def on_accelerator(strategy):
    """True when `strategy` trains on GPUs or TPUs rather than on the CPU."""
    import tensorflow as tf

    if isinstance(strategy, tf.distribute.TPUStrategy):
        return True
    return bool(tf.config.list_logical_devices("GPU"))


def is_multi_worker(strategy):
    import tensorflow as tf

    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def is_chief(strategy):
    """True for the process that writes the run: every process except a multi-worker non-chief."""
    if not is_multi_worker(strategy):
        return True
    resolver = strategy.cluster_resolver
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type == "chief":
        return True
    has_chief = bool(resolver.cluster_spec().as_dict().get("chief"))
    return task_type == "worker" and task_id == 0 and not has_chief


def describe(strategy):
    """'MultiWorkerMirroredStrategy, 2 replicas (worker 1 of 2)' and the like."""
    text = f"{type(strategy).__name__}, {strategy.num_replicas_in_sync} replica" + (
        "s" * (strategy.num_replicas_in_sync != 1))
    if is_multi_worker(strategy):
        resolver = strategy.cluster_resolver
        text += f" ({resolver.task_type} {resolver.task_id} of {_num_tasks(cluster_spec())})"
    return text


def weights_fingerprint(model):
    """SHA-256 (16 hex digits) of every weight of `model`: equal across workers in sync."""
    digest = hashlib.sha256()
    for weight in model.weights:
        digest.update(weight.path.encode("utf-8"))
        digest.update(weight.numpy().tobytes())
    return digest.hexdigest()[:16]


def check_same_start(strategy, epoch, step):
    """Refuses to train when the workers restored different checkpoints (a collective call).

    Every worker must start from the chief's checkpoint; a worker that cannot see the run
    directory would start from scratch and silently mix its gradients with the chief's.
    All positions are equal exactly when `n * sum(x^2) == sum(x)^2` over the n replicas.
    """
    if not is_multi_worker(strategy):
        return
    import tensorflow as tf

    position = float(epoch) * 1e6 + float(step)
    values = strategy.run(lambda: tf.constant([position, position * position], tf.float64))
    total = strategy.reduce(tf.distribute.ReduceOp.SUM, values, axis=None).numpy()
    replicas = strategy.num_replicas_in_sync
    if abs(replicas * total[1] - total[0] ** 2) > 1e-6 * max(1.0, total[0] ** 2):
        raise UserError(
            f"The workers restored different checkpoints (this one: {epoch} finished epochs, "
            f"{step} batches; the average: {total[0] / replicas / 1e6:.2f} epochs). Every "
            "worker must see the chief's run directory (a shared filesystem, or a copy of "
            "its checkpoints/ on each machine) before the run starts.")


FAILED_PEER_ERRORS = ("UnavailableError", "AbortedError", "DeadlineExceededError",
                      "CancelledError")


@contextlib.contextmanager
def peer_failures_as_user_errors(strategy):
    """Inside it, a collective that failed because another worker died (under
    `multi_worker`) is raised as `peer_failure`'s one-line UserError; other errors pass."""
    import tensorflow as tf

    try:
        yield
    except tf.errors.OpError as error:
        failure = peer_failure(error) if is_multi_worker(strategy) else None
        if failure is None:
            raise
        raise failure from None


def fingerprint_line(model):
    """The line every worker logs at the end, equal on workers that stayed in step."""
    return f"Weights fingerprint (the same on every worker): {weights_fingerprint(model)}"


def peer_failure(error):
    """The UserError for a collective that failed because another worker died, or None."""
    if type(error).__name__ not in FAILED_PEER_ERRORS:
        return None
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    reason = next((line for line in lines if "unhealthy" in line or "aborted" in line.lower()),
                  lines[0] if lines else type(error).__name__)
    return UserError(
        f"Another worker stopped or cannot be reached ({reason[:300]}). This worker stopped "
        "too; the chief's last checkpoint is intact. Restart every worker with the same "
        "command to resume from it.")
