// RUN: kiln-opt --help | FileCheck %s

// Tests that kiln-opt registers the kiln passes: --help lists
// --kiln-verify-stage with its summary and its stage option.

// CHECK: --kiln-verify-stage
// CHECK-SAME: Checks that a module meets the contract of a pipeline stage
// CHECK-NEXT: --stage=<string>
