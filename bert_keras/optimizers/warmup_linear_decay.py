import keras
from keras import ops


@keras.saving.register_keras_serializable(package="bert_keras")
class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """The original BERT learning rate: linear warmup, then linear decay to 0.

    For step `k` (counted from 0, before the step's own increment):

    - `learning_rate * k / num_warmup_steps` while `k < num_warmup_steps`,
    - `learning_rate * (1 - min(k, num_train_steps) / num_train_steps)` after.

    The decay is measured from step 0, not from the end of warmup, so the rate
    drops from `learning_rate` to `learning_rate * (1 - w / n)` when warmup
    ends. With warmup, step 0 has rate 0 (Adam's moments still move).

    Args:
        learning_rate: float. The peak rate (`init_lr` in the original).
        num_train_steps: int. Steps over which the rate decays to 0; it stays
            0 afterwards.
        num_warmup_steps: int. Steps of linear warmup; 0 for none.

    Example:
    >>> schedule = WarmupLinearDecay(1e-3, num_train_steps=10, num_warmup_steps=2)
    >>> [round(float(schedule(k)), 6) for k in (0, 1, 2, 5, 10, 12)]
    [0.0, 0.0005, 0.0008, 0.0005, 0.0, 0.0]
    """

    def __init__(self, learning_rate, num_train_steps, num_warmup_steps=0):
        if num_train_steps <= 0:
            raise ValueError(
                f"`num_train_steps` must be positive. Received: {num_train_steps}"
            )
        if num_warmup_steps < 0:
            raise ValueError(
                "`num_warmup_steps` must not be negative. "
                f"Received: {num_warmup_steps}"
            )
        self.learning_rate = float(learning_rate)
        self.num_train_steps = int(num_train_steps)
        self.num_warmup_steps = int(num_warmup_steps)

    def __call__(self, step):
        # float32 like the original, whose global step is cast before dividing;
        # the operations below follow its order so the rates match bit for bit.
        step = ops.cast(step, "float32")
        progress = ops.minimum(step, float(self.num_train_steps)) / float(
            self.num_train_steps
        )
        decayed = ops.multiply(self.learning_rate, 1.0 - progress)
        if not self.num_warmup_steps:
            return decayed
        warmup = ops.multiply(self.learning_rate, step / float(self.num_warmup_steps))
        return ops.where(step < float(self.num_warmup_steps), warmup, decayed)

    def get_config(self):
        return {
            "learning_rate": self.learning_rate,
            "num_train_steps": self.num_train_steps,
            "num_warmup_steps": self.num_warmup_steps,
        }
