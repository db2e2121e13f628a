//go:build amd64 && !purego

#include "textflag.h"

// The SVR solver's loops (svrkernel.go) in SSE2, two values per
// instruction, each lane doing the Go loop's operations in its order.

// func svrGradientSSE2(grad, up, ki, kj unsafe.Pointer, pairs int, dbi, dbj float64) (max0, max1, at0, at1 float64)
//
// Positions 2p (lane 0) and 2p+1 (lane 1): v = g + (ki·dbi + kj·dbj),
// g = v, and w = up − v, which the lane takes when max ≤ w (false for a
// NaN w). Positions rise, so the lane's last such position is the largest
// of mask & (q + 1): at, as a float64 (0 when none), kept by MAXPD, as is
// the maximum (a NaN w leaves it; on a tie either zero may be kept, so
// svrGradient reads the value back at the position). X6: the maxima; X7:
// at; X8: the current q + 1; X9: 2, 2.
TEXT ·svrGradientSSE2(SB), NOSPLIT, $0-88
	MOVQ  grad+0(FP), DI
	MOVQ  up+8(FP), SI
	MOVQ  ki+16(FP), R8
	MOVQ  kj+24(FP), R9
	MOVQ  pairs+32(FP), CX
	MOVSD dbi+40(FP), X0
	UNPCKLPD X0, X0
	MOVSD dbj+48(FP), X1
	UNPCKLPD X1, X1
	MOVQ  $0xFFF0000000000000, AX // −Inf
	MOVQ  AX, X6
	UNPCKLPD X6, X6
	XORPD X7, X7
	MOVQ  $0x3FF0000000000000, AX // 1.0
	MOVQ  AX, X8
	MOVQ  $0x4000000000000000, AX // 2.0
	MOVQ  AX, X9
	UNPCKLPD X9, X8               // 1, 2
	UNPCKLPD X9, X9               // 2, 2

gradloop:
	TESTQ CX, CX
	JZ    graddone
	CVTPS2PD (R8), X2
	MULPD X0, X2                  // ki·dbi
	CVTPS2PD (R9), X3
	MULPD X1, X3                  // kj·dbj
	ADDPD X3, X2
	MOVUPD (DI), X4
	ADDPD X2, X4                  // v
	MOVUPD X4, (DI)
	MOVUPD (SI), X5
	SUBPD X4, X5                  // w = up − v
	MOVAPD X6, X10
	CMPPD X5, X10, 2              // max ≤ w
	ANDPD X8, X10                 // q + 1 there, +0 elsewhere
	MAXPD X10, X7                 // at
	MAXPD X6, X5                  // w > max ? w : max (max when w is NaN)
	MOVAPD X5, X6
	ADDPD X9, X8
	ADDQ  $16, DI
	ADDQ  $16, SI
	ADDQ  $8, R8
	ADDQ  $8, R9
	DECQ  CX
	JMP   gradloop

graddone:
	MOVSD X6, max0+56(FP)
	UNPCKHPD X6, X6
	MOVSD X6, max1+64(FP)
	MOVSD X7, at0+72(FP)
	UNPCKHPD X7, X7
	MOVSD X7, at1+80(FP)
	RET

// func dot4SSE2(a, b unsafe.Pointer, n int) float64
//
// X0 holds the partial sums s0, s1 and X1 s2, s3; the tail goes to s0.
TEXT ·dot4SSE2(SB), NOSPLIT, $0-32
	MOVQ  a+0(FP), SI
	MOVQ  b+8(FP), DI
	MOVQ  n+16(FP), CX
	XORPD X0, X0
	XORPD X1, X1

dot4loop:
	CMPQ  CX, $4
	JL    dot4tail
	MOVUPD (SI), X2
	MOVUPD (DI), X3
	MULPD X3, X2
	ADDPD X2, X0
	MOVUPD 16(SI), X4
	MOVUPD 16(DI), X5
	MULPD X5, X4
	ADDPD X4, X1
	ADDQ  $32, SI
	ADDQ  $32, DI
	SUBQ  $4, CX
	JMP   dot4loop

dot4tail:
	TESTQ CX, CX
	JZ    dot4done
	MOVSD (SI), X2
	MULSD (DI), X2
	ADDSD X2, X0
	ADDQ  $8, SI
	ADDQ  $8, DI
	DECQ  CX
	JMP   dot4tail

dot4done:
	MOVAPD X0, X2
	UNPCKHPD X2, X2
	ADDSD X2, X0                  // s0 + s1
	MOVAPD X1, X3
	UNPCKHPD X3, X3
	ADDSD X3, X1                  // s2 + s3
	ADDSD X1, X0
	MOVSD X0, ret+24(FP)
	RET

// func svrSelectLowSSE2(grad, low, ki unsafe.Pointer, pairs int, gmax float64) (max0, max1, best0, best1, at0, at1 float64)
//
// Per lane: v = g + low; the lane's largest v (a NaN v ignored); for
// diff = gmax + v > 0 the ratio diff²/quad, quad = 2 − 2·ki (1e-12 where
// not positive: MAXPD with 1e-12, the same for every float32 ki, whose
// positive quads are at least 2^-23, and NaN kept), replacing the lane's
// best when larger, with its position. Where diff is not positive or the
// ratio is NaN, the ratio is taken as +0, which no best (≥ +0) is below,
// so MAXPD keeps the best (and the best's own chain of dependent
// operations is that one MAXPD); positions rise, so the position of the
// lane's best is the largest of mask & (q + 1): at, as a float64 (0 when
// none), also kept by MAXPD. X0: gmax; X1: 2;
// X2: 1e-12; X3: 0; X6: the lanes' largest v; X7: their best ratios; X8:
// at; X9: the current q + 1; X10: 2, 2.
TEXT ·svrSelectLowSSE2(SB), NOSPLIT, $0-88
	MOVQ  grad+0(FP), DI
	MOVQ  low+8(FP), SI
	MOVQ  ki+16(FP), R8
	MOVQ  pairs+24(FP), CX
	MOVSD gmax+32(FP), X0
	UNPCKLPD X0, X0
	MOVQ  $0x4000000000000000, AX // 2.0
	MOVQ  AX, X1
	UNPCKLPD X1, X1
	MOVAPD X1, X10
	MOVQ  $0x3D719799812DEA11, AX // 1e-12
	MOVQ  AX, X2
	UNPCKLPD X2, X2
	XORPD X3, X3
	MOVQ  $0xFFF0000000000000, AX // −Inf
	MOVQ  AX, X6
	UNPCKLPD X6, X6
	XORPD X7, X7
	XORPD X8, X8
	MOVQ  $0x3FF0000000000000, AX // 1.0
	MOVQ  AX, X9
	UNPCKLPD X1, X9               // 1, 2

selloop:
	TESTQ CX, CX
	JZ    seldone
	MOVUPD (DI), X4
	MOVUPD (SI), X5
	ADDPD X5, X4                  // v = g + low
	MOVAPD X4, X11
	MAXPD X6, X11                 // v > max ? v : max (max when v is NaN)
	MOVAPD X11, X6
	MOVAPD X0, X12
	ADDPD X4, X12                 // diff = gmax + v
	CVTPS2PD (R8), X13
	MULPD X1, X13                 // 2·ki
	MOVAPD X1, X14
	SUBPD X13, X14                // quad = 2 − 2·ki
	MOVAPD X2, X15
	MAXPD X14, X15                // quad, or 1e-12 where quad ≤ 0 (NaN kept)
	MOVAPD X12, X13
	MULPD X12, X13
	DIVPD X15, X13                // r = diff·diff / quad
	MOVAPD X3, X14
	CMPPD X12, X14, 1             // 0 < diff
	MOVAPD X13, X15
	CMPPD X13, X15, 0             // r not NaN
	ANDPD X15, X14
	ANDPD X14, X13                // r there, +0 elsewhere
	MOVAPD X7, X15
	CMPPD X13, X15, 1             // best < r
	ANDPD X9, X15                 // q + 1 there, +0 elsewhere
	MAXPD X15, X8                 // at
	MAXPD X13, X7                 // best
	ADDPD X10, X9
	ADDQ  $16, DI
	ADDQ  $16, SI
	ADDQ  $8, R8
	DECQ  CX
	JMP   selloop

seldone:
	MOVSD X6, max0+40(FP)
	UNPCKHPD X6, X6
	MOVSD X6, max1+48(FP)
	MOVSD X7, best0+56(FP)
	UNPCKHPD X7, X7
	MOVSD X7, best1+64(FP)
	MOVSD X8, at0+72(FP)
	UNPCKHPD X8, X8
	MOVSD X8, at1+80(FP)
	RET

// func choleskySolve2SSE2(l unsafe.Pointer, stride, m int, kept, b unsafe.Pointer)
//
// choleskySolve2 with both right-hand sides (the lanes of b) in one
// register: the forward substitution by rows of L, two kept rows at a time,
// then the backward one by rows (each row's x subtracted from the rows
// above), skipping the rows not kept (zeroed in the forward pass).
TEXT ·choleskySolve2SSE2(SB), NOSPLIT, $0-40
	MOVQ l+0(FP), R8
	MOVQ stride+8(FP), R9
	SHLQ $3, R9                   // bytes per row of L
	MOVQ m+16(FP), R10
	MOVQ kept+24(FP), R11
	MOVQ b+32(FP), R12
	XORQ AX, AX                   // a
	MOVQ R8, R13                  // row a of L

fwd:
	CMPQ AX, R10
	JGE  back0
	LEAQ 1(AX), BX
	CMPQ BX, R10
	JGE  fwdone
	MOVBLZX (R11)(AX*1), BX
	TESTQ BX, BX
	JZ   fwdone
	MOVBLZX 1(R11)(AX*1), BX
	TESTQ BX, BX
	JZ   fwdone
	// Rows a and a+1, both kept: their sums over c < a side by side (two
	// chains of additions that overlap), then x_a, then row a+1's term
	// c = a, then x_{a+1}: each sum in the order of c, as one row alone.
	LEAQ (R13)(R9*1), R14         // row a+1 of L
	XORPD X0, X0                  // s_a
	XORPD X5, X5                  // s_{a+1}
	XORQ CX, CX
	MOVQ R12, SI

fwdpair:
	CMPQ CX, AX
	JGE  fwdpairdone
	MOVUPD (SI), X2
	MOVSD (R13)(CX*8), X1
	UNPCKLPD X1, X1
	MULPD X2, X1
	ADDPD X1, X0
	MOVSD (R14)(CX*8), X6
	UNPCKLPD X6, X6
	MULPD X2, X6
	ADDPD X6, X5
	ADDQ $16, SI
	INCQ CX
	JMP  fwdpair

fwdpairdone:
	MOVQ AX, DX
	SHLQ $4, DX
	ADDQ R12, DX                  // &b[a]
	MOVUPD (DX), X3
	SUBPD X0, X3
	MOVSD (R13)(AX*8), X4
	UNPCKLPD X4, X4
	DIVPD X4, X3
	MOVUPD X3, (DX)               // x_a
	MOVSD (R14)(AX*8), X6
	UNPCKLPD X6, X6
	MULPD X3, X6
	ADDPD X6, X5                  // s_{a+1} += L[a+1][a]·x_a
	ADDQ $16, DX                  // &b[a+1]
	MOVUPD (DX), X3
	SUBPD X5, X3
	MOVSD 8(R14)(AX*8), X4
	UNPCKLPD X4, X4
	DIVPD X4, X3
	MOVUPD X3, (DX)               // x_{a+1}
	ADDQ $2, AX
	LEAQ (R14)(R9*1), R13
	JMP  fwd

fwdone:
	MOVQ AX, DX
	SHLQ $4, DX
	ADDQ R12, DX                  // &b[a]
	MOVBLZX (R11)(AX*1), BX
	TESTQ BX, BX
	JNZ  fwdkept
	XORPD X0, X0
	MOVUPD X0, (DX)
	JMP  fwdnext

fwdkept:
	XORPD X0, X0                  // s
	XORQ CX, CX
	MOVQ R12, SI

fwddot:
	CMPQ CX, AX
	JGE  fwddotdone
	MOVSD (R13)(CX*8), X1
	UNPCKLPD X1, X1
	MOVUPD (SI), X2
	MULPD X1, X2
	ADDPD X2, X0
	ADDQ $16, SI
	INCQ CX
	JMP  fwddot

fwddotdone:
	MOVUPD (DX), X3
	SUBPD X0, X3
	MOVSD (R13)(AX*8), X4
	UNPCKLPD X4, X4
	DIVPD X4, X3
	MOVUPD X3, (DX)

fwdnext:
	INCQ AX
	ADDQ R9, R13
	JMP  fwd

back0:
	MOVQ R10, AX
	DECQ AX                       // a = m − 1
	MOVQ AX, R13
	IMULQ R9, R13
	ADDQ R8, R13

back:
	TESTQ AX, AX
	JL   solved
	MOVBLZX (R11)(AX*1), BX
	TESTQ BX, BX
	JZ   backnext
	MOVQ AX, DX
	SHLQ $4, DX
	ADDQ R12, DX
	MOVUPD (DX), X3
	MOVSD (R13)(AX*8), X4
	UNPCKLPD X4, X4
	DIVPD X4, X3                  // x = b[a] / d
	MOVUPD X3, (DX)
	XORQ CX, CX
	MOVQ R12, SI

backsub:
	CMPQ CX, AX
	JGE  backnext
	MOVSD (R13)(CX*8), X1
	UNPCKLPD X1, X1
	MULPD X3, X1
	MOVUPD (SI), X2
	SUBPD X1, X2
	MOVUPD X2, (SI)
	ADDQ $16, SI
	INCQ CX
	JMP  backsub

backnext:
	DECQ AX
	SUBQ R9, R13
	JMP  back

solved:
	RET
