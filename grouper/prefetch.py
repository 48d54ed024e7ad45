"""Software prefetch for numba kernels: ask the CPU to bring an array element into its caches ahead of use.

A kernel whose next address depends on a load it has not made yet (a case's code lists in the grouping walk,
a hash-table slot and then the cell it names) stalls on every cache miss; a prefetch issued some iterations
ahead overlaps those misses with the work in between. A prefetch is a hint: it changes no result and never
faults, whatever the address. LLVM's ``llvm.prefetch`` intrinsic, called from numba through
:func:`numba.extending.intrinsic`.

``index`` is an integer for a 1-d array or a tuple of integers (``(i, j)`` for a 2-d one), of any integer
types. :func:`prefetch` fetches to be read, :func:`prefetch_for_write` to be written.
"""

from __future__ import annotations

from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

__all__ = ["prefetch", "prefetch_for_write"]


def _codegen(write: int):
    def codegen(context, builder, signature, args):
        array_type, index_type = signature.args
        array_struct = context.make_array(array_type)(context, builder, args[0])
        if isinstance(index_type, types.BaseTuple):
            values, index_types = cgutils.unpack_tuple(builder, args[1]), list(index_type)
        else:
            values, index_types = [args[1]], [index_type]
        index = [context.cast(builder, v, t, types.intp) for v, t in zip(values, index_types)]
        ptr = cgutils.get_item_pointer(context, builder, array_type, array_struct, index, wraparound=False)
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]),
                                            "llvm.prefetch.p0")
        # (read or write, keep in every cache level, data)
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(write), i32(3), i32(1)])
        return context.get_dummy_value()

    return codegen


def _signature(array, index):
    if isinstance(index, types.BaseTuple):
        if len(index) != array.ndim or not all(isinstance(t, types.Integer) for t in index):
            return None
    elif not (isinstance(index, types.Integer) and array.ndim == 1):
        return None
    return types.void(array, index)


@intrinsic
def prefetch(typingctx, array, index):
    """Fetch ``array[index]`` into the caches, to be read."""
    sig = _signature(array, index)
    return None if sig is None else (sig, _codegen(0))


@intrinsic
def prefetch_for_write(typingctx, array, index):
    """Fetch ``array[index]`` into the caches, to be written."""
    sig = _signature(array, index)
    return None if sig is None else (sig, _codegen(1))
