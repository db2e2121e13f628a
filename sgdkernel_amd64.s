//go:build amd64 && !purego

#include "textflag.h"

// func sgdEpochSSE2(pairs unsafe.Pointer, npairs int, order unsafe.Pointer, rows int, x, y unsafe.Pointer, t float64, consts unsafe.Pointer) float64
//
// sgdEpochGo for npairs ≥ 1 pairs of lanes: the same operations in the same
// order, each on both lanes of a pair at once (low half lane 0, high half
// lane 1). Registers: X0–X5 the row's six features and X7 its target, each
// in both halves; X6 the root √√t in both halves; X8–X15 temporaries.
// sgdPair offsets: w[j] at 16·j, b 96, eta0 112, alpha 128, loss 144.
// sgdConstants offsets: half 0, −MAX_DLOSS 16, MAX_DLOSS 32, one 48, sign 64.
TEXT ·sgdEpochSSE2(SB), NOSPLIT, $0-72
	MOVQ pairs+0(FP), DI
	MOVQ npairs+8(FP), R8
	MOVQ order+16(FP), SI
	MOVQ rows+24(FP), R9
	MOVQ x+32(FP), R10
	MOVQ y+40(FP), R11
	MOVQ consts+56(FP), R12
	XORQ CX, CX

row:
	CMPQ CX, R9
	JGE  done
	MOVLQSX (SI)(CX*4), AX       // i = order[k]
	LEAQ    (AX)(AX*2), BX
	SHLQ    $4, BX               // 48·i: the row's offset
	ADDQ    R10, BX
	MOVSD   0(BX), X0
	UNPCKLPD X0, X0
	MOVSD   8(BX), X1
	UNPCKLPD X1, X1
	MOVSD   16(BX), X2
	UNPCKLPD X2, X2
	MOVSD   24(BX), X3
	UNPCKLPD X3, X3
	MOVSD   32(BX), X4
	UNPCKLPD X4, X4
	MOVSD   40(BX), X5
	UNPCKLPD X5, X5
	MOVSD   (R11)(AX*8), X7
	UNPCKLPD X7, X7
	MOVSD   t+48(FP), X6
	MOVSD   X6, X8
	ADDSD   48(R12), X8          // t + 1 for the next row
	MOVSD   X8, t+48(FP)
	SQRTSD  X6, X6
	SQRTSD  X6, X6
	UNPCKLPD X6, X6
	MOVQ    DI, DX
	MOVQ    R8, R13

pair:
	// even = w0·x0 + w2·x2 + w4·x4; odd = w1·x1 + w3·x3 + w5·x5
	MOVUPD 0(DX), X8
	MULPD  X0, X8
	MOVUPD 32(DX), X10
	MULPD  X2, X10
	ADDPD  X10, X8
	MOVUPD 64(DX), X10
	MULPD  X4, X10
	ADDPD  X10, X8
	MOVUPD 16(DX), X9
	MULPD  X1, X9
	MOVUPD 48(DX), X10
	MULPD  X3, X10
	ADDPD  X10, X9
	MOVUPD 80(DX), X10
	MULPD  X5, X10
	ADDPD  X10, X9
	ADDPD  X9, X8                // even + odd
	MOVUPD 96(DX), X10
	ADDPD  X8, X10               // b + (even + odd)
	SUBPD  X7, X10               // dloss = … − y

	// loss += 0.5·dloss·dloss
	MOVUPD 0(R12), X14
	MULPD  X10, X14
	MULPD  X10, X14
	MOVUPD 144(DX), X15
	ADDPD  X14, X15
	MOVUPD X15, 144(DX)

	// dloss = min(max(dloss, −MAX_DLOSS), MAX_DLOSS), NaN kept (the
	// instructions return their second operand when one is NaN)
	MOVUPD 16(R12), X14
	MAXPD  X10, X14
	MOVUPD 32(R12), X10
	MINPD  X14, X10

	// eta = eta0 / root; update = −eta · dloss
	MOVUPD 112(DX), X11
	DIVPD  X6, X11
	MOVUPD 64(R12), X15
	MOVAPD X11, X12
	XORPD  X15, X12
	MULPD  X10, X12

	// shrink = max(1 − eta·alpha, 0)
	MOVUPD 128(DX), X13
	MULPD  X11, X13
	MOVUPD 48(R12), X14
	SUBPD  X13, X14
	XORPD  X13, X13
	MAXPD  X14, X13

	// w_j = w_j·shrink + update·x_j
	MOVUPD 0(DX), X14
	MULPD  X13, X14
	MOVAPD X0, X15
	MULPD  X12, X15
	ADDPD  X15, X14
	MOVUPD X14, 0(DX)
	MOVUPD 16(DX), X14
	MULPD  X13, X14
	MOVAPD X1, X15
	MULPD  X12, X15
	ADDPD  X15, X14
	MOVUPD X14, 16(DX)
	MOVUPD 32(DX), X14
	MULPD  X13, X14
	MOVAPD X2, X15
	MULPD  X12, X15
	ADDPD  X15, X14
	MOVUPD X14, 32(DX)
	MOVUPD 48(DX), X14
	MULPD  X13, X14
	MOVAPD X3, X15
	MULPD  X12, X15
	ADDPD  X15, X14
	MOVUPD X14, 48(DX)
	MOVUPD 64(DX), X14
	MULPD  X13, X14
	MOVAPD X4, X15
	MULPD  X12, X15
	ADDPD  X15, X14
	MOVUPD X14, 64(DX)
	MOVUPD 80(DX), X14
	MULPD  X13, X14
	MOVAPD X5, X15
	MULPD  X12, X15
	ADDPD  X15, X14
	MOVUPD X14, 80(DX)

	// b += update
	MOVUPD 96(DX), X14
	ADDPD  X12, X14
	MOVUPD X14, 96(DX)

	ADDQ $160, DX
	DECQ R13
	JNZ  pair
	INCQ CX
	JMP  row

done:
	MOVSD t+48(FP), X0
	MOVSD X0, ret+64(FP)
	RET
