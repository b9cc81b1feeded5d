"""What a pretraining-data run made: the counts its summary line reports."""

import dataclasses

_COUNTS = ("documents", "sentences", "instances", "tokens", "masked_positions")


@dataclasses.dataclass
class DataSummary:
    """Counts of one run or shard; `+` adds shards up.

    `tokens` counts the instances' tokens (`[CLS]` and `[SEP]` included,
    padding not), `masked_positions` their masked-LM targets.
    """

    documents: int = 0
    sentences: int = 0
    instances: int = 0
    tokens: int = 0
    masked_positions: int = 0
    seconds: float = 0.0

    @classmethod
    def of(cls, documents, instances, seconds=0.0):
        return cls(
            documents=len(documents),
            sentences=sum(len(document) for document in documents),
            instances=len(instances),
            tokens=sum(len(instance.tokens) for instance in instances),
            masked_positions=sum(len(instance.masked_lm_positions) for instance in instances),
            seconds=seconds,
        )

    def __add__(self, other):
        counts = {name: getattr(self, name) + getattr(other, name) for name in _COUNTS}
        return DataSummary(**counts, seconds=self.seconds + other.seconds)

    def __sub__(self, other):
        counts = {name: getattr(self, name) - getattr(other, name) for name in _COUNTS}
        return DataSummary(**counts, seconds=self.seconds - other.seconds)

    def as_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values):
        return cls(**{field.name: values[field.name] for field in dataclasses.fields(cls)})

    def describe(self, seconds=None):
        """One line for people; `seconds` is the wall time when it differs."""
        seconds = self.seconds if seconds is None else seconds
        rate = self.instances / seconds if seconds > 0 else float("inf")
        return (
            f"{self.documents:,} documents, {self.sentences:,} sentences -> "
            f"{self.instances:,} instances, {self.tokens:,} tokens, "
            f"{self.masked_positions:,} masked positions in {seconds:.1f} s "
            f"({rate:,.0f} instances/s)"
        )
