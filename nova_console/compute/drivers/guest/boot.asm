; The nova_console guest: one boot sector that shows who it is and echoes its serial port.
;
; Assembled with nasm into a 512-byte boot sector (see __init__.py, which passes NAME_MAX
; and patches the instance's name into the zero-filled slot just before the boot
; signature). Runs in 16-bit real mode after the BIOS loads it at 0000:7C00:
;
;   1. VGA text mode 3 (80x25): the first BIG_MAX characters of the name drawn large
;      (the BIOS 8x8 font, one screen cell per font pixel), the whole name below them;
;   2. COM1 (0x3F8) at 115200 8N1, FIFO on; writes "nova_console guest <name> ready\r\n";
;   3. echoes every byte received on COM1 back to COM1, forever. The CPU sleeps in HLT
;      between bytes: the UART's receive interrupt (IRQ 4) and the BIOS timer wake it.

bits 16
org 0x7c00

%ifndef NAME_MAX
%define NAME_MAX 64
%endif

COM1        equ 0x3f8
UART_LSR    equ COM1 + 5
LSR_DATA    equ 0x01                    ; a received byte is waiting
LSR_THRE    equ 0x20                    ; the transmitter can take a byte
PIC1_CMD    equ 0x20
PIC1_DATA   equ 0x21
IRQ4_VECTOR equ 0x0c
TEXT_SEG    equ 0xb800
COLUMNS     equ 80
BIG_MAX     equ 10                      ; 10 glyphs of 8 cells fill the 80 columns
BIG_ROW     equ 4
NAME_ROW    equ 15
ATTR_SCREEN equ 0x1f                    ; bright white on blue
ATTR_BIG    equ 0x1e                    ; yellow on blue
FULL_BLOCK  equ 0xdb
NAME_SLOT   equ 0x7c00 + 510 - (NAME_MAX + 1)

start:
        cli
        xor ax, ax
        mov ds, ax
        mov ss, ax
        mov sp, 0x7c00
        jmp 0:.normalised               ; some BIOSes enter at 07C0:0000
.normalised:
        cld

        mov ax, 0x0003                  ; text mode 80x25, 16 colours
        int 0x10
        mov ah, 0x01                    ; no blinking cursor on the picture
        mov cx, 0x2000
        int 0x10

        mov ax, 0x1130                  ; ES:BP = the BIOS 8x8 font (characters 0-127)
        mov bh, 0x03
        int 0x10
        mov [font_off], bp
        mov [font_seg], es

        mov ax, TEXT_SEG
        mov es, ax
        xor di, di                      ; paint the whole screen
        mov ax, ATTR_SCREEN << 8 | ' '
        mov cx, COLUMNS * 25
        rep stosw

        ; --- the name, large --------------------------------------------------------
        mov si, NAME_SLOT
        call name_length                ; CX = length of the name
        cmp cx, BIG_MAX
        jbe .fits
        mov cx, BIG_MAX
.fits:
        jcxz .small
        mov di, COLUMNS                 ; left column = (80 - 8 * count) / 2, in bytes * 2
        mov ax, cx
        shl ax, 3
        sub di, ax
        add di, BIG_ROW * COLUMNS * 2   ; (80 - 8n) / 2 cells = 80 - 8n bytes
.glyph:
        push cx
        push si
        push di
        lodsb
        and ax, 0x7f                    ; the 8x8 font covers characters 0-127
        shl ax, 3
        push ds
        lds si, [font_ptr]
        add si, ax
        mov dx, 8                       ; 8 font rows
.row:
        lodsb
        mov bl, al
        mov cx, 8                       ; 8 font columns, most significant bit first
.cell:
        mov ax, ATTR_SCREEN << 8 | ' '
        shl bl, 1
        jnc .blank
        mov ax, ATTR_BIG << 8 | FULL_BLOCK
.blank:
        stosw
        loop .cell
        add di, (COLUMNS - 8) * 2
        dec dx
        jnz .row
        pop ds
        pop di
        pop si
        pop cx
        inc si
        add di, 16                      ; the next glyph, 8 cells to the right
        loop .glyph

        ; --- the name, in full --------------------------------------------------------
.small:
        mov si, NAME_SLOT
        call name_length
        mov di, COLUMNS + NAME_ROW * COLUMNS * 2
        sub di, cx                      ; centred: (80 - n) / 2 cells
        and di, 0xfffe
        mov ah, ATTR_SCREEN
.char:
        lodsb
        test al, al
        jz .serial
        stosw
        jmp .char

        ; --- COM1 -------------------------------------------------------------------
.serial:
        mov si, uart_setup
.register:
        lodsw                           ; AL = register offset, AH = value
        test al, al
        js .registers_done
        mov dx, COM1
        add dl, al
        mov al, ah
        out dx, al
        jmp .register
.registers_done:
        mov word [IRQ4_VECTOR * 4], on_irq4
        mov word [IRQ4_VECTOR * 4 + 2], 0
        in al, PIC1_DATA                ; let IRQ 4 (COM1) through
        and al, 0xef
        out PIC1_DATA, al

        mov si, ready_head
        call send_string
        mov si, NAME_SLOT
        call send_string
        mov si, ready_tail
        call send_string

idle:                                   ; echo what has come, then sleep until more comes
        cli
        call echo_pending
        sti
        hlt
        jmp idle

on_irq4:
        pusha
        call echo_pending
        mov al, 0x20                    ; end of interrupt
        out PIC1_CMD, al
        popa
        iret

; Send back every byte waiting in the receiver.
echo_pending:
        mov dx, UART_LSR
        in al, dx
        test al, LSR_DATA
        jz .done
        mov dx, COM1
        in al, dx
        call send_byte
        jmp echo_pending
.done:
        ret

; Send the zero-terminated string at DS:SI.
send_string:
        lodsb
        test al, al
        jz .done
        call send_byte
        jmp send_string
.done:
        ret

; Send AL once the transmitter has room.
send_byte:
        mov ah, al
        mov dx, UART_LSR
.wait:
        in al, dx
        test al, LSR_THRE
        jz .wait
        mov dx, COM1
        mov al, ah
        out dx, al
        ret

; CX = length of the zero-terminated string at SI (SI unchanged).
name_length:
        push si
        xor cx, cx
.next:
        lodsb
        test al, al
        jz .done
        inc cx
        jmp .next
.done:
        pop si
        ret

; (register offset, value) pairs; an offset with its top bit set ends the list.
uart_setup:
        db 1, 0x00                      ; no interrupts while the divisor is set
        db 3, 0x80                      ; DLAB on
        db 0, 0x01                      ; divisor 1: 115200 baud
        db 1, 0x00
        db 3, 0x03                      ; DLAB off, 8 data bits, no parity, 1 stop bit
        db 2, 0xc7                      ; FIFOs on and cleared
        db 4, 0x0b                      ; DTR, RTS, OUT2 (routes the interrupt to the PIC)
        db 1, 0x01                      ; interrupt when a byte is received
        db 0x80, 0

ready_head: db "nova_console guest ", 0
ready_tail: db " ready", 13, 10, 0

font_ptr:
font_off: dw 0
font_seg: dw 0

        times NAME_SLOT - 0x7c00 - ($ - $$) db 0
        times NAME_MAX + 1 db 0         ; the name, zero-terminated (patched in per instance)
        dw 0xaa55
