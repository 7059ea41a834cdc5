"""jeeg's training engine: a stack of members trained as one compiled program.

One owner per concern, and no import of :mod:`jeeg.config` or the CLI:

* :mod:`jeeg.engine.loop` — training state and the compiled loop (pure, no I/O);
* :mod:`jeeg.engine.mesh` — the ``"members"`` mesh, placement, the member-axis formulation;
* :mod:`jeeg.engine.checkpoint` — the checkpoint format (pack/unpack, orbax save/restore,
  program folders and member keys);
* :mod:`jeeg.engine.trainer` — the host driver (:class:`Trainer`);
* :mod:`jeeg.engine.distill` — knowledge distillation (:class:`DistillTrainer`), the teacher an
  argument of ``fit``.
"""

from jeeg.engine.checkpoint import (
                                    Checkpointing,
                                    member_key,
                                    pack_members,
                                    program_dir,
                                    restore_raw,
                                    state_from_flat,
                                    unpack_members,
)
from jeeg.engine.distill import DistillTrainer, attention_map, attention_transfer_loss, kd_loss
from jeeg.engine.loop import MEMBER_AXES, CompiledLoop, MemberData, MemberState, TrainConfig
from jeeg.engine.mesh import default_member_axis, member_mesh, over_members, to_host
from jeeg.engine.trainer import PROGRESS_SECONDS, FitResult, Trainer

__all__ = ["MEMBER_AXES", "PROGRESS_SECONDS", "Checkpointing", "CompiledLoop", "DistillTrainer", "FitResult",
           "MemberData", "MemberState", "TrainConfig", "Trainer", "attention_map", "attention_transfer_loss",
           "default_member_axis", "kd_loss", "member_key", "member_mesh", "over_members",
           "pack_members", "program_dir", "restore_raw", "state_from_flat", "to_host", "unpack_members"]
