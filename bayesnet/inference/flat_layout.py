"""Layout of the flat schedule shared by :mod:`bayesnet.inference.kernels` and its numba kernels.

A schedule is packed into a few one-dimensional arrays: an integer array whose first
entries give the start of each *section* (section ``k`` of ``a`` is ``a[a[k]:a[k + 1]]``),
a float array of tables (potentials, cached evidence-free tables and messages,
correction tables) and a float64 array of logs.  The section numbers below are the
contract between the two modules.

Examples
--------
>>> a = pack_sections([[7, 8], [], [9]])
>>> a[a[0]:a[1]].tolist(), a[a[2]:a[3]].tolist()
([7, 8], [9])
>>> submap([0, 1], [2, 3], [1]).tolist()   # entry (x0, x1) of a 2x3 table -> x1
[0, 1, 2, 0, 1, 2]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["pack_sections", "submap"]

# sections of the integer schedule array
(I_META, I_POST, I_PARENT, I_TOFF, I_SOFF, I_CHPTR, I_CHIDX, I_C2S, I_P2SOFF, I_P2S, I_HVPTR, I_HVIDX,
 I_EVOFF, I_EVMAP, I_LOFF, I_PARPTR, I_PARIDX, I_RTOPO, I_FIXVAR, I_FIXMOFF, I_FIXMAP, I_FIXVOFF,
 I_FIXHPTR, I_FIXHIDX, I_ONES, I_GPTR, I_GOFF, I_GSZ, I_GCMAP, I_GMPTR, I_GMKIND, I_GMID, I_GMMAP, I_GCH,
 I_GVAR, I_GMAPS) = range(36)
# entries of the meta section
(M_NC, M_NV, M_S, M_ROOT, M_EVERY, M_NFIX, M_T, M_SS, M_MAXSEP, M_FPOT0, M_FM0, M_FMSG0, M_FFIX, M_GB) = range(14)
# sections of a plan array
P_META, P_EDGES, P_READS, P_RMOFF, P_RMAP, P_TMASK, P_NEED, P_NCHPTR, P_NCHIDX, P_NRDPTR, P_NRD = range(11)


def pack_sections(sections: Sequence[Any], dtype: Any = np.int32) -> np.ndarray:
    """Concatenate integer sections behind a header of their start positions.

    Parameters
    ----------
    sections : sequence of array_like of int
    dtype : numpy integer dtype

    Returns
    -------
    ndarray
        ``a`` with section ``k`` at ``a[a[k]:a[k + 1]]``.

    Raises
    ------
    ValueError
        A value does not fit the dtype.
    """
    arrs = [np.asarray(s, dtype=np.int64).reshape(-1) for s in sections]
    head = len(arrs) + 1
    starts = np.cumsum([head] + [len(a) for a in arrs])
    out = np.concatenate([starts, *arrs])
    if out.size and np.abs(out).max() > np.iinfo(dtype).max:
        raise ValueError("junction tree too large for the compiled kernels' index type")
    return out.astype(dtype)


def submap(clique: Sequence[int], cards: Sequence[int], sub: Sequence[int]) -> np.ndarray:
    """For each entry of a C-ordered table over ``clique``, its index in the C-ordered table over ``sub``.

    Parameters
    ----------
    clique : sequence of int
        Variables of the table, in the global order.
    cards : sequence of int
        Cardinality of every variable.
    sub : sequence of int
        A subset of ``clique``, in the same order.

    Returns
    -------
    ndarray of int64, shape (table size,)
    """
    clique = list(clique)
    shape = [int(cards[u]) for u in clique]
    idx = np.zeros(shape, dtype=np.int64)
    stride = 1
    for u in reversed(list(sub)):
        ax = clique.index(u)
        sh = [1] * len(shape)
        sh[ax] = shape[ax]
        idx += (np.arange(shape[ax], dtype=np.int64) * stride).reshape(sh)
        stride *= shape[ax]
    return idx.reshape(-1)
