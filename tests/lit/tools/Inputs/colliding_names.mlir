func.func @forward(%a: tensor<4xf32> {kiln.param = "a/b"},
                   %b: tensor<4xf32> {kiln.param = "a_b"}) -> tensor<4xf32> {
  %0 = kiln.add %a, %b : tensor<4xf32>
  return %0 : tensor<4xf32>
}
