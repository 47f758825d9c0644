// Tests that the llvm stage rejects any op outside the LLVM dialect.
llvm.func @llvm_stage() {
  // expected-error @+1 {{'arith.constant' is not allowed in the llvm stage (only the LLVM dialect)}}
  %0 = arith.constant 0 : i32
  llvm.return
}
