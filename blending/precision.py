"""The dtype the blending math runs in."""

import torch


def working_dtype(dtype: torch.dtype) -> torch.dtype:
    """float16/bfloat16 stacks are processed in float32, others in their own dtype.

    Box averages over ``p^2`` pixels and band sums over several observations
    lose visible precision in half types; float32 keeps render/blend exact to
    within float32 rounding while the callers' tensors stay in their dtype.
    """
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype
