//go:build amd64 && !purego

#include "textflag.h"

// func cdResidualDotSSE2(r, prev, next unsafe.Pointer, n int, aPrev, aNext float64, usePrev, useNext int) float64
//
// Per row i: r += aPrev·prev (when usePrev), r += aNext·next (when useNext),
// one loop for each combination (the caller never asks for neither),
// each as gonum's AxpyUnitary computes it, (a·x) + r; then next·r summed as
// gonum's DotUnitary sums it: rows 4k, 4k+1 in X7, 4k+2, 4k+3 in X8, the
// last n mod 4 rows into X7's low half, then (X7 + X8), high + low.
TEXT ·cdResidualDotSSE2(SB), NOSPLIT, $0-72
	MOVQ  r+0(FP), DI
	MOVQ  prev+8(FP), SI
	MOVQ  next+16(FP), DX
	MOVQ  n+24(FP), CX
	MOVSD aPrev+32(FP), X0
	UNPCKLPD X0, X0
	MOVSD aNext+40(FP), X1
	UNPCKLPD X1, X1
	MOVQ  usePrev+48(FP), R8
	MOVQ  useNext+56(FP), R9
	XORPD X7, X7
	XORPD X8, X8
	XORQ  AX, AX                  // i

	TESTQ R8, R8
	JZ    nextquad                // (the caller never asks for neither)
	TESTQ R9, R9
	JZ    prevquad

// Four rows: load r (X2, X3), the next column (X10, X11); add the
// updates; store r; add next·r to the partial sums X7, X8.
#define QUAD_LOAD \
	MOVQ  CX, BX \
	SUBQ  AX, BX \
	CMPQ  BX, $4 \
	JL    tail \
	MOVUPD (DI)(AX*8), X2 \
	MOVUPD 16(DI)(AX*8), X3 \
	MOVUPD (DX)(AX*8), X10 \
	MOVUPD 16(DX)(AX*8), X11

#define QUAD_PREV \
	MOVUPD (SI)(AX*8), X4 \
	MULPD X0, X4 \
	ADDPD X4, X2 \
	MOVUPD 16(SI)(AX*8), X5 \
	MULPD X0, X5 \
	ADDPD X5, X3

#define QUAD_NEXT \
	MOVAPD X10, X4 \
	MULPD X1, X4 \
	ADDPD X4, X2 \
	MOVAPD X11, X5 \
	MULPD X1, X5 \
	ADDPD X5, X3

#define QUAD_DOT \
	MOVUPD X2, (DI)(AX*8) \
	MOVUPD X3, 16(DI)(AX*8) \
	MULPD X2, X10 \
	ADDPD X10, X7 \
	MULPD X3, X11 \
	ADDPD X11, X8 \
	ADDQ  $4, AX

bothquad:
	QUAD_LOAD
	QUAD_PREV
	QUAD_NEXT
	QUAD_DOT
	JMP   bothquad

prevquad:
	QUAD_LOAD
	QUAD_PREV
	QUAD_DOT
	JMP   prevquad

nextquad:
	QUAD_LOAD
	QUAD_NEXT
	QUAD_DOT
	JMP   nextquad

tail:
	CMPQ  AX, CX
	JGE   done
	MOVSD (DI)(AX*8), X2
	TESTQ R8, R8
	JZ    tailnext
	MOVSD (SI)(AX*8), X4
	MULSD X0, X4
	ADDSD X4, X2

tailnext:
	TESTQ R9, R9
	JZ    taildot
	MOVSD (DX)(AX*8), X4
	MULSD X1, X4
	ADDSD X4, X2

taildot:
	MOVSD X2, (DI)(AX*8)
	MOVSD (DX)(AX*8), X4
	MULSD X2, X4
	ADDSD X4, X7
	INCQ  AX
	JMP   tail

done:
	ADDPD X8, X7
	MOVSD X7, X0
	UNPCKHPD X7, X7
	ADDSD X0, X7
	MOVSD X7, ret+64(FP)
	RET
