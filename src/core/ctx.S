/* Context switching: save/restore of the callee-saved registers.
   dill_setjmp_(jb)         saves the caller's context, returns 0 (and 1
                            when resumed through dill__longjmp).
   dill__longjmp(jb)        resumes a saved context; never returns.
   dill__swap(save, load)   saves into save, resumes load; returns when
                            something resumes save. */

#if defined(__x86_64__) && !defined(DILL_ARCH_FALLBACK)

/* Saves rbx, rbp, r12-r15, the caller's stack pointer and return address
   into the buffer at %rdi.  Hibernation (cr.c) reads the stack pointer
   at offset 48. */
.macro DILL_SAVE
    movq (%rsp), %rax
    movq %rbx, 0(%rdi)
    movq %rbp, 8(%rdi)
    movq %r12, 16(%rdi)
    movq %r13, 24(%rdi)
    movq %r14, 32(%rdi)
    movq %r15, 40(%rdi)
    leaq 8(%rsp), %rdx
    movq %rdx, 48(%rdi)
    movq %rax, 56(%rdi)
.endm

/* Resumes the context in the buffer at \buf: the saving call returns 1.
   \how is jmp or ret.  dill__swap ends with a ret: the call to it pushed
   an entry on the processor's return-address predictor, and only a ret
   pops it; a jump would leave it there, and every return of the resumed
   coroutine would then be predicted one frame off (a channel message took
   ~10 ns more, see bench/RESULTS.md).  Both coroutines usually stopped in
   the same place, so the ret is predicted right too.  The return address
   goes just below the saved stack pointer, where no live frame is (the
   saving code had just made a call).  dill__longjmp, called when a
   coroutine ends (a frame that never returns), keeps the jump, which the
   processor predicts from its history. */
.macro DILL_LOAD buf, how
    movq 0(\buf), %rbx
    movq 8(\buf), %rbp
    movq 16(\buf), %r12
    movq 24(\buf), %r13
    movq 32(\buf), %r14
    movq 40(\buf), %r15
    movq 48(\buf), %rsp
    movl $1, %eax
    .ifc \how,ret
    pushq 56(\buf)
    ret
    .else
    jmpq *56(\buf)
    .endif
.endm

    .text
    .globl dill_setjmp_
    .type dill_setjmp_, @function
dill_setjmp_:
    DILL_SAVE
    xorl %eax, %eax
    ret
    .size dill_setjmp_, .-dill_setjmp_

    .globl dill__longjmp
    .hidden dill__longjmp
    .type dill__longjmp, @function
dill__longjmp:
    DILL_LOAD %rdi, jmp
    .size dill__longjmp, .-dill__longjmp

    .globl dill__swap
    .hidden dill__swap
    .type dill__swap, @function
dill__swap:
    DILL_SAVE
    DILL_LOAD %rsi, ret
    .size dill__swap, .-dill__swap

#elif defined(__aarch64__) && !defined(DILL_ARCH_FALLBACK)

/* Saves x19-x30, sp and d8-d15 into the buffer at x0.  Hibernation
   (cr.c) reads sp at offset 96. */
.macro DILL_SAVE
    stp x19, x20, [x0, #0]
    stp x21, x22, [x0, #16]
    stp x23, x24, [x0, #32]
    stp x25, x26, [x0, #48]
    stp x27, x28, [x0, #64]
    stp x29, x30, [x0, #80]
    mov x2, sp
    str x2, [x0, #96]
    stp d8, d9, [x0, #104]
    stp d10, d11, [x0, #120]
    stp d12, d13, [x0, #136]
    stp d14, d15, [x0, #152]
.endm

    .text
    .globl dill_setjmp_
    .type dill_setjmp_, %function
dill_setjmp_:
    DILL_SAVE
    mov w0, #0
    ret
    .size dill_setjmp_, .-dill_setjmp_

    .globl dill__longjmp
    .hidden dill__longjmp
    .type dill__longjmp, %function
dill__longjmp:
    ldp x19, x20, [x0, #0]
    ldp x21, x22, [x0, #16]
    ldp x23, x24, [x0, #32]
    ldp x25, x26, [x0, #48]
    ldp x27, x28, [x0, #64]
    ldp x29, x30, [x0, #80]
    ldr x2, [x0, #96]
    mov sp, x2
    ldp d8, d9, [x0, #104]
    ldp d10, d11, [x0, #120]
    ldp d12, d13, [x0, #136]
    ldp d14, d15, [x0, #152]
    mov w0, #1
    ret
    .size dill__longjmp, .-dill__longjmp

    .globl dill__swap
    .hidden dill__swap
    .type dill__swap, %function
dill__swap:
    DILL_SAVE
    mov x0, x1
    b dill__longjmp
    .size dill__swap, .-dill__swap
#endif

#if defined(__linux__) && defined(__ELF__)
    .section .note.GNU-stack,"",%progbits
#endif
