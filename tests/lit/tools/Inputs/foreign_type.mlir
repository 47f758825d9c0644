// A type of a dialect outside the forward form (kilnc_foreign_dialects.mlir).
func.func @forward(%p: !llvm.ptr) {
  return
}
