"""What a data set reader skipped, for it to return beside the data."""

import dataclasses


@dataclasses.dataclass
class Report:
    """``malformed``: (path or id, reason) of each skipped example, in reading order."""

    malformed: list = dataclasses.field(default_factory=list)

    @property
    def count(self):
        """The number of malformed (skipped) examples."""
        return len(self.malformed)
