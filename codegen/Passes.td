//===- Passes.td - kiln code generation passes --------------*- tablegen -*-===//
//
// The lowering passes from kiln IR to LLVM: kiln -> linalg on tensors,
// runtime calls for contractions after bufferization, and the static memory
// plan that places every temporary in one scratch arena and every argument in
// a caller-owned region. Pipelines composing them are C++ functions in
// Pipelines.cpp, registered for kiln-opt and called by kilnc.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_CODEGEN_PASSES_TD
#define KILN_CODEGEN_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertKilnToLinalgPass
    : Pass<"convert-kiln-to-linalg", "::mlir::func::FuncOp"> {
  let summary = "Lowers kiln ops to linalg, tensor and arith/math on tensors";
  let description = [{
    Elementwise ops and reductions become `linalg.generic` ops with `arith` /
    `math` bodies; matmul becomes `linalg.matmul` (or a transposed / batched
    variant), later turned into a runtime GEMM call by
    `kiln-lower-matmul-to-runtime`; softmax, log_softmax and the losses
    lower to their numerically stable forms (max shift, log-sum-exp, log1p);
    shape ops become `tensor` / `linalg` ops. Any kiln op left afterwards is
    an error naming the op.

    Before:
    ```mlir
    %r = kiln.relu %x : tensor<4xf32>
    ```
    After:
    ```mlir
    %e = tensor.empty() : tensor<4xf32>
    %r = linalg.generic {...} ins(%x : tensor<4xf32>) outs(%e : tensor<4xf32>) {
    ^bb0(%in: f32, %out: f32):
      %z = arith.constant 0.0 : f32
      %m = arith.maximumf %in, %z : f32
      linalg.yield %m : f32
    } -> tensor<4xf32>
    ```
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::tensor::TensorDialect",
    "::mlir::kiln_rt::KilnRtDialect",
  ];
}

def KilnFuseGemmEpiloguesPass
    : Pass<"kiln-fuse-gemm-epilogues", "::mlir::ModuleOp"> {
  let summary = "Prepares bias + activation epilogues of matmuls for the GEMM";
  let description = [{
    Runs after bufferization, before the memory plan. For a 2-D matmul whose
    zero-filled output C is consumed only by the elementwise op right after
    it, of the form `D = act(C + bias)` (act: none, relu, tanh), the matmul
    is retargeted to write D and the elementwise op to update D in place:

    ```mlir
    linalg.fill ins(%zero) outs(%C)
    linalg.matmul ins(%A, %B) outs(%C)
    linalg.generic ins(%C, %bias) outs(%D) { addf; maximumf 0 }
    ```
    becomes
    ```mlir
    linalg.fill ins(%zero) outs(%D)
    linalg.matmul ins(%A, %B) outs(%D)
    linalg.generic ins(%D, %bias) outs(%D) { addf; maximumf 0 }
    ```
    so that C's buffer disappears before memory planning and
    `kiln-lower-matmul-to-runtime` turns the pair into one GEMM call with a
    fused epilogue.
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect"];
}

def KilnFuseConvEpiloguesPass
    : Pass<"kiln-fuse-conv-epilogues", "::mlir::ModuleOp"> {
  let summary = "Fuses bias + activation into forward convolution kernel calls";
  let description = [{
    Runs after bufferization, before the memory plan. A
    `kiln_rt.kernel_call @kiln_conv_fwd_f32|f64` (no bias, no epilogue yet)
    writing C, followed by the elementwise op `D = act(C + bias)` (bias
    indexed by the channel, the last axis; act: none, relu, tanh; the
    matcher of `kiln-fuse-gemm-epilogues`), becomes one kernel call that
    writes D, passes the bias pointer and sets the descriptor's `epilogue`
    field (runtime.h's `kiln_epilogue_t`):

    ```mlir
    kiln_rt.kernel_call @kiln_conv_fwd_f32 descriptor = [..., 0, ...]
        ins(%x, %w) outs(%C) {null_pointers = array<i64: 2>}
    linalg.generic ins(%C, %bias) outs(%D) { addf; maximumf 0 }
    ```
    becomes
    ```mlir
    kiln_rt.kernel_call @kiln_conv_fwd_f32 descriptor = [..., 1, ...]
        ins(%x, %w, %bias) outs(%D)
    ```
    Only when C is a temporary that nothing else reads (or the epilogue
    updates C in place), D is dense row-major and does not share a buffer
    with the kernel's inputs.
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect"];
}

def KilnLowerMatmulToRuntimePass
    : Pass<"kiln-lower-matmul-to-runtime", "::mlir::ModuleOp"> {
  let summary = "Turns linalg matmuls on memrefs into runtime GEMM calls";
  let description = [{
    After bufferization, every `linalg.matmul`, `linalg.matmul_transpose_a`,
    `linalg.matmul_transpose_b` and `linalg.batch_matmul` on f32 or f64
    memrefs becomes a call to `kiln_gemm_f32` / `kiln_gemm_f64`
    (runtime/include/kiln/runtime.h) with the operands' aligned pointers,
    leading dimensions and `beta = 1` (linalg.matmul accumulates into its
    output). With `precision=bf16` the f32 ones call `kiln_gemm_bf16_f32`
    instead (bf16 operands, f32 sums; `kilnc --precision=bf16`).
  }];
  let options = [
    Option<"precision", "precision", "std::string", /*default=*/"\"f32\"",
           "GEMM operand precision of f32 matmuls: f32 or bf16">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::func::FuncDialect",
    "::mlir::LLVM::LLVMDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect",
  ];
}

def KilnLowerKernelCallsPass
    : Pass<"kiln-lower-kernel-calls", "::mlir::ModuleOp"> {
  let summary = "Turns kiln_rt.kernel_call on memrefs into runtime C calls";
  let description = [{
    After bufferization and the memory plan, every `kiln_rt.kernel_call`
    (on dense row-major memrefs) becomes `func.call @callee(%desc, %p...)`
    of a private declaration `(!llvm.ptr, ...) -> ()`: the descriptor is a
    constant `llvm.mlir.global` i64 array (one per distinct descriptor), the
    pointers are the operands' first elements (region pointer + view shift
    + offset, as for the GEMM calls) and `llvm.mlir.zero` at the
    `null_pointers` positions.

    ```mlir
    kiln_rt.kernel_call @kiln_max_pool_fwd_f32 descriptor = [1, 4, 8, ...]
        ins(%x : memref<4x8x8xf32>) outs(%y : memref<4x4x8xf32>)
    ```
    becomes
    ```mlir
    %d = llvm.mlir.addressof @__kiln_desc_0 : !llvm.ptr
    func.call @kiln_max_pool_fwd_f32(%d, %px, %py)
        : (!llvm.ptr, !llvm.ptr, !llvm.ptr) -> ()
    ```
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::func::FuncDialect",
    "::mlir::LLVM::LLVMDialect",
    "::mlir::memref::MemRefDialect",
  ];
}

def KilnSplitEntryPointsPass
    : Pass<"kiln-split-entry-points", "::mlir::ModuleOp"> {
  let summary = "Moves consecutive parts of a long entry point into functions of their own";
  let description = [{
    LLVM's optimizer and code generator take time superlinear in the size
    of one function (value tracking scans basic blocks, scalar evolution and
    the dominator tree walk chains as deep as the function has loops), so a
    model of N layers compiled in O(N^2). An entry point (any function with
    a body) of more than `max-ops` ops, nested ops included, is cut at its
    top level into consecutive parts of about `part-ops` ops; each part
    becomes a private `noinline` function called in its place. Values a part
    reads from before it are passed as arguments (constants are cloned),
    values read after it are returned. A part never ends where a buffer it
    allocates is still read after it; that cut moves to a later op. The ops
    run in the same order on the same data: results are bitwise unchanged.
    Runs on loops (after linalg-to-loops), before the lowering to LLVM.
    Parts are named `<function>__part<N>`; a name the module already uses
    gets a suffix (`_0`, `_1`, ...) from the symbol table.

    ```mlir
    func.func @train_step(...) { <part 0 ops> <part 1 ops> return }
    ```
    becomes
    ```mlir
    func.func @train_step(...) {
      %v = call @train_step__part0(...) : (...) -> f32
      call @train_step__part1(..., %v) : (..., f32) -> ()
      return
    }
    func.func private @train_step__part0(...) -> f32
        attributes {passthrough = ["noinline"]} { <part 0 ops> return %v }
    ```
  }];
  let options = [
    Option<"maxOps", "max-ops", "unsigned", /*default=*/"1500",
           "Functions of at most this many ops stay whole">,
    Option<"partOps", "part-ops", "unsigned", /*default=*/"700",
           "Ops per part (a part ends at the first top-level op past it)">,
  ];
  let dependentDialects = ["::mlir::func::FuncDialect"];
}

def KilnParallelizeLoopsPass
    : Pass<"kiln-parallelize-loops", "::mlir::ModuleOp"> {
  let summary = "Splits large generated loops into chunks on the runtime's thread pool";
  let description = [{
    After bufferization and the memory plan, a `linalg.generic` at the top
    level of an entry point with a parallel outermost loop and at least
    `min-iterations` iterations is split along that loop into chunks of at
    least `min-chunk-iterations` iterations (at most `max-chunks` chunks;
    both depend only on the shapes, never on the thread count). The chunk
    body is outlined into a private function `(!llvm.ptr, i64) -> ()` that
    rebuilds the entry point's region buffers from the context array, clones
    the view chains and constants the generic uses and runs the generic on
    its slice; the generic is replaced by a call of the runtime's
    `kiln_parallel_for(chunks, fn, ctx)`. Every operand's indexing map must
    be a projected permutation, so chunks write disjoint slices and results
    are bitwise those of the serial loop. A float sum over the outermost
    loop into one output (body `addf(v, out)`) is split too: each chunk sums
    into its own row of a stack buffer of partial sums starting at -0.0,
    and the rows are added to the output in chunk order after the loop
    (a different rounding than the serial sum, the same for every thread
    count). Captured scalars (e.g. a loaded dropout counter) travel by
    value in the context; generics that need anything else stay serial.

    ```mlir
    linalg.generic {..., iterator_types = ["parallel", "parallel"]}
        ins(%a : memref<128x1600xf32>) outs(%b : memref<128x1600xf32>) {...}
    ```
    becomes
    ```mlir
    %f = func.constant @train_step__parallel0 : (!llvm.ptr, i64) -> ()
    func.call @kiln_parallel_for(%c22, %fp, %ctx)
        : (i64, !llvm.ptr, !llvm.ptr) -> ()
    ```
  }];
  let options = [
    Option<"minIterations", "min-iterations", "int64_t", "32768",
           "Generics with fewer iterations stay serial">,
    Option<"minChunkIterations", "min-chunk-iterations", "int64_t", "8192",
           "Minimum iterations per chunk">,
    Option<"maxChunks", "max-chunks", "int64_t", "64",
           "Maximum number of chunks per generic">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::func::FuncDialect",
    "::mlir::LLVM::LLVMDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::memref::MemRefDialect",
  ];
}

def KilnFuseElementwisePass
    : Pass<"kiln-fuse-elementwise", "::mlir::ModuleOp"> {
  let summary = "Elementwise fusion of linalg on tensors, recomputing shared producers";
  let description = [{
    Upstream elementwise fusion (linalg::populateElementwiseOpsFusionPatterns)
    with kiln's control: an elementwise producer is fused into each
    elementwise consumer even when it has other users, as long as its body
    is small (at most `max-recomputed-ops` ops), so cheap work is
    recomputed instead of written to and read back from memory. An
    optimizer update computes m', v' and w' from the same intermediates:
    with single-use fusion it makes five passes over each parameter, with
    this one three. Producers with reductions are fused only into their
    single user, as upstream. A producer read through a broadcast (a scalar
    such as Adam's bias correction, a per-row softmax statistic) is never
    fused: its work would be repeated for every element of the consumer.

    No fusion makes a body of more than `max-fused-ops` ops: a chain of N
    elementwise layers (hundreds of Dropouts) would otherwise become one
    loop body of O(N) ops, which costs O(N^2) here (each fusion copies the
    growing body) and in LLVM (value tracking scans whole basic blocks).
    With the cap both stay linear in N; real models' fused bodies are far
    smaller than the default.
  }];
  let options = [
    Option<"maxRecomputedOps", "max-recomputed-ops", "unsigned",
           /*default=*/"16",
           "Largest producer body (ops) fused into several consumers">,
    Option<"maxFusedOps", "max-fused-ops", "unsigned",
           /*default=*/"256",
           "Largest body (ops) a fusion may create">,
  ];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def KilnMathToIntrinsicsPass
    : Pass<"kiln-math-to-intrinsics", "::mlir::ModuleOp"> {
  let summary = "sqrt, exp, log, pow, abs become LLVM intrinsics";
  let description = [{
    Runs before convert-math-to-libm, which would otherwise turn math.sqrt
    into calls to sqrtf: a call in a loop body keeps LLVM from vectorizing
    the loop (the Adam update, with one sqrt per element, ran scalar). The
    LLVM intrinsics (llvm.sqrt, llvm.exp, llvm.log, llvm.pow, llvm.fabs) are
    vectorized by LLVM and are as accurate as the libm functions. Functions
    without an accurate intrinsic expansion (tanh, erf, log1p, expm1) are
    left to convert-math-to-libm.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def KilnPrepareEntryPointsPass
    : Pass<"kiln-prepare-entry-points", "::mlir::ModuleOp"> {
  let summary = "Records the tensor-level signature of each entry point";
  let description = [{
    Runs before bufferization, on every public function with a body:
    - records `kiln.num_inputs` (the argument count before results become
      out-params) and `kiln.output_names` (the `kiln.name` result
      attributes, or `output<i>`), which `kiln-plan-memory` uses to name the
      tensors of the generated interface;
    - gives every result its own buffer: a returned argument, or a value
      returned twice, is copied (`bufferization.alloc_tensor copy(...)`), so
      that each output has its own place in the io region;
    - writes each result marked `kiln.update_of = i` (the new parameters
      and optimizer state of a training step) into argument i
      (`bufferization.materialize_in_destination`) and drops it from the
      results, so that the params and opt_state regions are updated in
      place;
    - removes the other result-to-argument references (`kiln.gradient_of`,
      `kiln.state_update_of`), which bufferization would otherwise carry
      onto the out-param arguments.
  }];
  let dependentDialects = ["::mlir::bufferization::BufferizationDialect"];
}

def KilnPlanMemoryPass : Pass<"kiln-plan-memory", "::mlir::ModuleOp"> {
  let summary = "Static memory plan: regions for arguments, one scratch arena";
  let description = [{
    Rewrites each public function (after bufferization and
    buffer-results-to-out-params) to the region ABI:
    `(params: memref<Pxi8>, opt_state: memref<Oxi8>, io: memref<Ixi8>,
    scratch: memref<Sxi8>)`. Arguments marked `kiln.param` live in the
    params region, those marked `kiln.opt_state` in the opt_state region,
    the other arguments and the results (out-params) in the io region, each
    at a 64-byte aligned offset; every `memref.alloc` of a static shape becomes a
    `memref.view` into the scratch arena at an offset chosen by liveness
    (buffers whose live ranges do not overlap share bytes). The layout is
    recorded on the function as `kiln.abi` for the header emitter.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::memref::MemRefDialect",
  ];
}

#endif // KILN_CODEGEN_PASSES_TD
