"""Entry points. Every service runs on eventlet green threads: patch before anything else.

One concurrency model in every process means the all-in-one process (all
services together) behaves exactly like the separate services.
"""
import warnings

# eventlet announces its own (upstream) deprecation on import; we chose it knowingly
# (see README, "Concurrency"), so that one warning would only be noise for operators.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()
