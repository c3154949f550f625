;; The MLP's elementwise work in WebAssembly SIMD (f32x4): bias + LayerNorm + activation forward,
;; activation gradient + LayerNorm backward + bias gradient, tanh in place, Adam and Polyak steps,
;; and the conv encoder's im2col / col2im.
;;
;; Why: the matrix products run on BLAS (or tfjs), and what was left — these loops, as scalar JS on
;; Float32Arrays — was 60% of an RLPD update at 256×256 (tanh alone 34%, ~12 ns an element).
;;
;; Contract (policies/nn/simd.ts keeps it): every pointer is a byte offset into this module's memory,
;; 16-byte aligned; every row length `n` and count is a multiple of 4; regions do not overlap. `act`:
;; 0 none, 1 tanh, 2 relu. Built into policies/nn/simd-wasm.ts by `npm run build:simd` (wabt);
;; a test checks the committed binary is this file's.
(module
  (memory (export "memory") 1)

  ;; tanh as a rational function, Eigen's ptanh_float (the coefficients of policies/nn/fast-tanh.ts),
  ;; evaluated in float32 the way Eigen and TensorFlow's CPU kernels do. NaN stays NaN (wasm min/max
  ;; propagate it).
  ;; Macros, expanded by policies/nn/simd-build.ts and written inline because Node 20's V8 does not
  ;; inline wasm calls (a call per four elements cost 2× in the LayerNorm loops):
  ;; `;;@tanh4 $v $x $x2 $p $q` sets $v ← tanh($v) with the other four v128 locals as scratch
  ;; (fast-tanh.ts's rational function in float32, as Eigen and TensorFlow's CPU kernels evaluate it;
  ;; NaN stays NaN); `;;@tanh4x2` does two vectors with interleaved chains; `;;@grad4 $d $act h`
  ;; sets $d ← $d·act'(h) for the activation's output h (tanh: 1 − h²; relu: h > 0).

  (func $hsum (param $v v128) (result f32)
    (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v)))
      (f32.add (f32x4.extract_lane 2 (local.get $v)) (f32x4.extract_lane 3 (local.get $v)))))

  ;; z[i] ← tanh(z[i]) for i < n. Two vectors an iteration: the rational function is a long chain
  ;; of dependent operations, and two independent chains run 1.8× faster on this machine.
  (func (export "tanh") (param $z i32) (param $n i32)
    (local $end i32) (local $v v128) (local $x v128) (local $x2 v128) (local $p v128) (local $q v128)
    (local $w v128) (local $y v128) (local $y2 v128) (local $s v128) (local $t v128)
    (local.set $end (i32.add (local.get $z) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $l
        (br_if $done (i32.gt_u (i32.add (local.get $z) (i32.const 32)) (local.get $end)))
        (local.set $v (v128.load (local.get $z)))
        (local.set $w (v128.load offset=16 (local.get $z)))
        ;;@tanh4x2 $v $x $x2 $p $q $w $y $y2 $s $t
        (v128.store (local.get $z) (local.get $v))
        (v128.store offset=16 (local.get $z) (local.get $w))
        (local.set $z (i32.add (local.get $z) (i32.const 32)))
        (br $l)))
    (if (i32.lt_u (local.get $z) (local.get $end))
      (then
        (local.set $v (v128.load (local.get $z)))
        ;;@tanh4 $v $x $x2 $p $q
        (v128.store (local.get $z) (local.get $v)))))

  ;; z ← max(z, 0) for i < n (ReLU; NaN stays NaN).
  (func (export "relu") (param $z i32) (param $n i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $z) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $z) (local.get $end)))
        (v128.store (local.get $z) (f32x4.max (v128.load (local.get $z)) (v128.const f32x4 0 0 0 0)))
        (local.set $z (i32.add (local.get $z) (i32.const 16)))
        (br $l))))

  ;; z ← z + b row by row (rows × n, b of length n).
  (func (export "bias") (param $z i32) (param $rows i32) (param $n i32) (param $b i32)
    (local $r i32) (local $j i32) (local $nb i32) (local $row i32)
    (local.set $nb (i32.shl (local.get $n) (i32.const 2)))
    (block $done
      (loop $rl
        (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $row (i32.add (local.get $z) (i32.mul (local.get $r) (local.get $nb))))
        (local.set $j (i32.const 0))
        (block $e
          (loop $l
            (br_if $e (i32.ge_u (local.get $j) (local.get $nb)))
            (v128.store (i32.add (local.get $row) (local.get $j))
              (f32x4.add (v128.load (i32.add (local.get $row) (local.get $j))) (v128.load (i32.add (local.get $b) (local.get $j)))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $l)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rl))))

  ;; Per row: v = z + b; x̂ = (v − mean)/√(var + 1e-5); z ← x̂·g + β; keeps x̂ and 1/σ (inv[r]).
  (func (export "ln_fwd") (param $z i32) (param $rows i32) (param $n i32) (param $b i32) (param $g i32)
                          (param $beta i32) (param $xhat i32) (param $inv i32)
    (local $r i32) (local $j i32) (local $nb i32) (local $row i32) (local $xrow i32)
    (local $acc v128) (local $acc2 v128) (local $v v128) (local $mean v128) (local $is v128) (local $xh v128) (local $c f32) (local $cv v128)
    (local $nf f32) (local $invf f32)
    (local.set $nb (i32.shl (local.get $n) (i32.const 2)))
    (local.set $nf (f32.convert_i32_u (local.get $n)))
    (block $done
      (loop $rl
        (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $row (i32.add (local.get $z) (i32.mul (local.get $r) (local.get $nb))))
        (local.set $xrow (i32.add (local.get $xhat) (i32.mul (local.get $r) (local.get $nb))))
        ;; pass 1: add the bias, sum
        (local.set $acc (v128.const f32x4 0 0 0 0))
        (local.set $j (i32.const 0))
        (block $e1
          (loop $l1
            (br_if $e1 (i32.ge_u (local.get $j) (local.get $nb)))
            (local.set $v (f32x4.add (v128.load (i32.add (local.get $row) (local.get $j))) (v128.load (i32.add (local.get $b) (local.get $j)))))
            (v128.store (i32.add (local.get $row) (local.get $j)) (local.get $v))
            (local.set $acc (f32x4.add (local.get $acc) (local.get $v)))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $l1)))
        (local.set $mean (f32x4.splat (f32.div (call $hsum (local.get $acc)) (local.get $nf))))
        ;; pass 2: about that mean, Σd and Σd² (d = v − mean); the float32 mean of a row far from zero
        ;; is off by up to an ulp of its size, and c = Σd/n corrects it (x̂ = (v − mean − c)/σ with
        ;; var = Σd²/n − c²; v − mean is exact, mean + c would round c away), so a row of 1e4 + small
        ;; noise, or of all-equal values, normalises as in float64.
        (local.set $acc (v128.const f32x4 0 0 0 0))
        (local.set $acc2 (v128.const f32x4 0 0 0 0))
        (local.set $j (i32.const 0))
        (block $e2
          (loop $l2
            (br_if $e2 (i32.ge_u (local.get $j) (local.get $nb)))
            (local.set $v (f32x4.sub (v128.load (i32.add (local.get $row) (local.get $j))) (local.get $mean)))
            (local.set $acc (f32x4.add (local.get $acc) (local.get $v)))
            (local.set $acc2 (f32x4.add (local.get $acc2) (f32x4.mul (local.get $v) (local.get $v))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $l2)))
        (local.set $c (f32.div (call $hsum (local.get $acc)) (local.get $nf)))
        (local.set $cv (f32x4.splat (local.get $c)))
        (local.set $invf (f32.div (f32.const 1)
          (f32.sqrt (f32.add
            (f32.max (f32.sub (f32.div (call $hsum (local.get $acc2)) (local.get $nf)) (f32.mul (local.get $c) (local.get $c))) (f32.const 0))
            (f32.const 1e-5)))))
        (f32.store (i32.add (local.get $inv) (i32.shl (local.get $r) (i32.const 2))) (local.get $invf))
        (local.set $is (f32x4.splat (local.get $invf)))
        ;; pass 3: normalise, scale, shift
        (local.set $j (i32.const 0))
        (block $e3
          (loop $l3
            (br_if $e3 (i32.ge_u (local.get $j) (local.get $nb)))
            (local.set $xh (f32x4.mul (f32x4.sub (f32x4.sub (v128.load (i32.add (local.get $row) (local.get $j))) (local.get $mean)) (local.get $cv)) (local.get $is)))
            (v128.store (i32.add (local.get $xrow) (local.get $j)) (local.get $xh))
            (v128.store (i32.add (local.get $row) (local.get $j))
              (f32x4.add (f32x4.mul (local.get $xh) (v128.load (i32.add (local.get $g) (local.get $j))))
                         (v128.load (i32.add (local.get $beta) (local.get $j)))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $l3)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rl))))

  ;; d ← d · act'(h) over `count` values (count a multiple of 4).
  (func (export "act_grad") (param $d i32) (param $h i32) (param $count i32) (param $act i32)
    (local $j i32) (local $nb i32) (local $v v128) (local $hv v128)
    (local.set $nb (i32.shl (local.get $count) (i32.const 2)))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $j) (local.get $nb)))
        (local.set $v (v128.load (i32.add (local.get $d) (local.get $j))))
        ;;@grad4 $v $act (v128.load (i32.add (local.get $h) (local.get $j)))
        (v128.store (i32.add (local.get $d) (local.get $j)) (local.get $v))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $l))))

  ;; out[j] ← Σ_r src[r, j] (the bias gradient).
  (func (export "colsum") (param $src i32) (param $rows i32) (param $n i32) (param $out i32)
    (local $r i32) (local $j i32) (local $nb i32) (local $row i32)
    (local.set $nb (i32.shl (local.get $n) (i32.const 2)))
    (block $z
      (loop $zl
        (br_if $z (i32.ge_u (local.get $j) (local.get $nb)))
        (v128.store (i32.add (local.get $out) (local.get $j)) (v128.const f32x4 0 0 0 0))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $zl)))
    (block $done
      (loop $rl
        (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $row (i32.add (local.get $src) (i32.mul (local.get $r) (local.get $nb))))
        (local.set $j (i32.const 0))
        (block $e
          (loop $l
            (br_if $e (i32.ge_u (local.get $j) (local.get $nb)))
            (v128.store (i32.add (local.get $out) (local.get $j))
              (f32x4.add (v128.load (i32.add (local.get $out) (local.get $j))) (v128.load (i32.add (local.get $row) (local.get $j)))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $l)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rl))))

  ;; Backward through act(LayerNorm(z + b)·g + β), per row, in place on dy (dL/d output → dL/dz):
  ;; d = dy · act'(h); dg += d·x̂; dβ += d; dx = d·g;
  ;; dz = (1/σ)·(dx − mean(dx) − x̂·mean(dx·x̂)). dg and dβ are zeroed first.
  (func (export "ln_bwd") (param $dy i32) (param $h i32) (param $rows i32) (param $n i32) (param $g i32)
                          (param $xhat i32) (param $inv i32) (param $dg i32) (param $dbeta i32) (param $act i32)
    (local $r i32) (local $j i32) (local $nb i32) (local $off i32) (local $p i32)
    (local $a1 v128) (local $a2 v128) (local $d v128) (local $xh v128) (local $dx v128)
    (local $md v128) (local $mdx v128) (local $is v128) (local $nf f32) (local $hv v128)
    (local.set $nb (i32.shl (local.get $n) (i32.const 2)))
    (local.set $nf (f32.convert_i32_u (local.get $n)))
    (block $z
      (loop $zl
        (br_if $z (i32.ge_u (local.get $j) (local.get $nb)))
        (v128.store (i32.add (local.get $dg) (local.get $j)) (v128.const f32x4 0 0 0 0))
        (v128.store (i32.add (local.get $dbeta) (local.get $j)) (v128.const f32x4 0 0 0 0))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $zl)))
    (block $done
      (loop $rl
        (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $off (i32.mul (local.get $r) (local.get $nb)))
        (local.set $a1 (v128.const f32x4 0 0 0 0))
        (local.set $a2 (v128.const f32x4 0 0 0 0))
        (local.set $j (i32.const 0))
        (block $e1
          (loop $l1
            (br_if $e1 (i32.ge_u (local.get $j) (local.get $nb)))
            (local.set $p (i32.add (local.get $off) (local.get $j)))
            (local.set $d (v128.load (i32.add (local.get $dy) (local.get $p))))
            ;;@grad4 $d $act (v128.load (i32.add (local.get $h) (local.get $p)))
            (v128.store (i32.add (local.get $dy) (local.get $p)) (local.get $d))
            (local.set $xh (v128.load (i32.add (local.get $xhat) (local.get $p))))
            (v128.store (i32.add (local.get $dg) (local.get $j))
              (f32x4.add (v128.load (i32.add (local.get $dg) (local.get $j))) (f32x4.mul (local.get $d) (local.get $xh))))
            (v128.store (i32.add (local.get $dbeta) (local.get $j))
              (f32x4.add (v128.load (i32.add (local.get $dbeta) (local.get $j))) (local.get $d)))
            (local.set $dx (f32x4.mul (local.get $d) (v128.load (i32.add (local.get $g) (local.get $j)))))
            (local.set $a1 (f32x4.add (local.get $a1) (local.get $dx)))
            (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $dx) (local.get $xh))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $l1)))
        (local.set $md (f32x4.splat (f32.div (call $hsum (local.get $a1)) (local.get $nf))))
        (local.set $mdx (f32x4.splat (f32.div (call $hsum (local.get $a2)) (local.get $nf))))
        (local.set $is (v128.load32_splat (i32.add (local.get $inv) (i32.shl (local.get $r) (i32.const 2)))))
        (local.set $j (i32.const 0))
        (block $e2
          (loop $l2
            (br_if $e2 (i32.ge_u (local.get $j) (local.get $nb)))
            (local.set $p (i32.add (local.get $off) (local.get $j)))
            (v128.store (i32.add (local.get $dy) (local.get $p))
              (f32x4.mul (local.get $is)
                (f32x4.sub
                  (f32x4.sub
                    (f32x4.mul (v128.load (i32.add (local.get $dy) (local.get $p))) (v128.load (i32.add (local.get $g) (local.get $j))))
                    (local.get $md))
                  (f32x4.mul (v128.load (i32.add (local.get $xhat) (local.get $p))) (local.get $mdx)))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $l2)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rl))))

  ;; Adam on n values (a multiple of 4), bias corrections folded into s and ε̂ (policies/nn/adam.ts):
  ;; m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², p ← p − s·m/(√v + ε̂).
  (func (export "adam") (param $g i32) (param $p i32) (param $m i32) (param $v i32) (param $n i32)
                        (param $b1 f32) (param $b2 f32) (param $s f32) (param $eps f32)
    (local $j i32) (local $nb i32) (local $gv v128) (local $mv v128) (local $vv v128)
    (local $B1 v128) (local $B2 v128) (local $C1 v128) (local $C2 v128) (local $S v128) (local $E v128)
    (local.set $nb (i32.shl (local.get $n) (i32.const 2)))
    (local.set $B1 (f32x4.splat (local.get $b1)))
    (local.set $B2 (f32x4.splat (local.get $b2)))
    (local.set $C1 (f32x4.splat (f32.sub (f32.const 1) (local.get $b1))))
    (local.set $C2 (f32x4.splat (f32.sub (f32.const 1) (local.get $b2))))
    (local.set $S (f32x4.splat (local.get $s)))
    (local.set $E (f32x4.splat (local.get $eps)))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $j) (local.get $nb)))
        (local.set $gv (v128.load (i32.add (local.get $g) (local.get $j))))
        (local.set $mv (f32x4.add (f32x4.mul (local.get $B1) (v128.load (i32.add (local.get $m) (local.get $j))))
                                  (f32x4.mul (local.get $C1) (local.get $gv))))
        (local.set $vv (f32x4.add (f32x4.mul (local.get $B2) (v128.load (i32.add (local.get $v) (local.get $j))))
                                  (f32x4.mul (f32x4.mul (local.get $C2) (local.get $gv)) (local.get $gv))))
        (v128.store (i32.add (local.get $m) (local.get $j)) (local.get $mv))
        (v128.store (i32.add (local.get $v) (local.get $j)) (local.get $vv))
        (v128.store (i32.add (local.get $p) (local.get $j))
          (f32x4.sub (v128.load (i32.add (local.get $p) (local.get $j)))
            (f32x4.div (f32x4.mul (local.get $S) (local.get $mv)) (f32x4.add (f32x4.sqrt (local.get $vv)) (local.get $E)))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $l))))

  ;; Polyak averaging on n values (a multiple of 4): t ← t + τ·(s − t).
  (func (export "lerp") (param $t i32) (param $s i32) (param $n i32) (param $tau f32)
    (local $j i32) (local $nb i32) (local $T v128) (local $tv v128)
    (local.set $nb (i32.shl (local.get $n) (i32.const 2)))
    (local.set $T (f32x4.splat (local.get $tau)))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $j) (local.get $nb)))
        (local.set $tv (v128.load (i32.add (local.get $t) (local.get $j))))
        (v128.store (i32.add (local.get $t) (local.get $j))
          (f32x4.add (local.get $tv) (f32x4.mul (local.get $T) (f32x4.sub (v128.load (i32.add (local.get $s) (local.get $j))) (local.get $tv)))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $l))))

  ;; The patch matrix of a 3×3 convolution (policies/encoder/conv-encoder.ts's im2col): for each
  ;; output pixel (b, oy, ox) in order, its 3 input rows of 3·ci floats side by side. NHWC input.
  (func (export "im2col") (param $x i32) (param $batch i32) (param $hi i32) (param $wi i32) (param $ci i32)
                          (param $ho i32) (param $wo i32) (param $stride i32) (param $cols i32)
    (local $b i32) (local $oy i32) (local $ox i32) (local $ky i32) (local $runb i32) (local $src i32)
    (local $dst i32) (local $k i32)
    (local.set $runb (i32.mul (i32.const 12) (local.get $ci)))
    (local.set $dst (local.get $cols))
    (block $bd (loop $bl
      (br_if $bd (i32.ge_u (local.get $b) (local.get $batch)))
      (local.set $oy (i32.const 0))
      (block $yd (loop $yl
        (br_if $yd (i32.ge_u (local.get $oy) (local.get $ho)))
        (local.set $ox (i32.const 0))
        (block $xd (loop $xl
          (br_if $xd (i32.ge_u (local.get $ox) (local.get $wo)))
          (local.set $ky (i32.const 0))
          (block $kd (loop $kl
            (br_if $kd (i32.ge_u (local.get $ky) (i32.const 3)))
            (local.set $src (i32.add (local.get $x) (i32.shl
              (i32.mul (i32.add
                (i32.mul (i32.add (i32.mul (local.get $b) (local.get $hi)) (i32.add (i32.mul (local.get $oy) (local.get $stride)) (local.get $ky))) (local.get $wi))
                (i32.mul (local.get $ox) (local.get $stride))) (local.get $ci))
              (i32.const 2))))
            (local.set $k (i32.const 0))
            (block $vd (loop $vl
              (br_if $vd (i32.gt_u (i32.add (local.get $k) (i32.const 16)) (local.get $runb)))
              (v128.store (i32.add (local.get $dst) (local.get $k)) (v128.load (i32.add (local.get $src) (local.get $k))))
              (local.set $k (i32.add (local.get $k) (i32.const 16)))
              (br $vl)))
            (block $sd (loop $sl
              (br_if $sd (i32.ge_u (local.get $k) (local.get $runb)))
              (f32.store (i32.add (local.get $dst) (local.get $k)) (f32.load (i32.add (local.get $src) (local.get $k))))
              (local.set $k (i32.add (local.get $k) (i32.const 4)))
              (br $sl)))
            (local.set $dst (i32.add (local.get $dst) (local.get $runb)))
            (local.set $ky (i32.add (local.get $ky) (i32.const 1)))
            (br $kl)))
          (local.set $ox (i32.add (local.get $ox) (i32.const 1)))
          (br $xl)))
        (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
        (br $yl)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $bl))))

  ;; The adjoint of im2col: dx ← 0, then each patch row added back where it was read from.
  (func (export "col2im") (param $dcols i32) (param $batch i32) (param $hi i32) (param $wi i32) (param $ci i32)
                          (param $ho i32) (param $wo i32) (param $stride i32) (param $dx i32)
    (local $b i32) (local $oy i32) (local $ox i32) (local $ky i32) (local $runb i32) (local $dst i32)
    (local $src i32) (local $k i32) (local $end i32)
    (local.set $runb (i32.mul (i32.const 12) (local.get $ci)))
    (local.set $end (i32.add (local.get $dx) (i32.shl (i32.mul (i32.mul (local.get $batch) (local.get $hi)) (i32.mul (local.get $wi) (local.get $ci))) (i32.const 2))))
    (memory.fill (local.get $dx) (i32.const 0) (i32.sub (local.get $end) (local.get $dx)))
    (local.set $src (local.get $dcols))
    (block $bd (loop $bl
      (br_if $bd (i32.ge_u (local.get $b) (local.get $batch)))
      (local.set $oy (i32.const 0))
      (block $yd (loop $yl
        (br_if $yd (i32.ge_u (local.get $oy) (local.get $ho)))
        (local.set $ox (i32.const 0))
        (block $xd (loop $xl
          (br_if $xd (i32.ge_u (local.get $ox) (local.get $wo)))
          (local.set $ky (i32.const 0))
          (block $kd (loop $kl
            (br_if $kd (i32.ge_u (local.get $ky) (i32.const 3)))
            (local.set $dst (i32.add (local.get $dx) (i32.shl
              (i32.mul (i32.add
                (i32.mul (i32.add (i32.mul (local.get $b) (local.get $hi)) (i32.add (i32.mul (local.get $oy) (local.get $stride)) (local.get $ky))) (local.get $wi))
                (i32.mul (local.get $ox) (local.get $stride))) (local.get $ci))
              (i32.const 2))))
            (local.set $k (i32.const 0))
            (block $vd (loop $vl
              (br_if $vd (i32.gt_u (i32.add (local.get $k) (i32.const 16)) (local.get $runb)))
              (v128.store (i32.add (local.get $dst) (local.get $k))
                (f32x4.add (v128.load (i32.add (local.get $dst) (local.get $k))) (v128.load (i32.add (local.get $src) (local.get $k)))))
              (local.set $k (i32.add (local.get $k) (i32.const 16)))
              (br $vl)))
            (block $sd (loop $sl
              (br_if $sd (i32.ge_u (local.get $k) (local.get $runb)))
              (f32.store (i32.add (local.get $dst) (local.get $k))
                (f32.add (f32.load (i32.add (local.get $dst) (local.get $k))) (f32.load (i32.add (local.get $src) (local.get $k)))))
              (local.set $k (i32.add (local.get $k) (i32.const 4)))
              (br $sl)))
            (local.set $src (i32.add (local.get $src) (local.get $runb)))
            (local.set $ky (i32.add (local.get $ky) (i32.const 1)))
            (br $kl)))
          (local.set $ox (i32.add (local.get $ox) (i32.const 1)))
          (br $xl)))
        (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
        (br $yl)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $bl))))
)
