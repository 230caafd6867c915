/*
 * Optional C accelerator for the WebSocket hot path: XOR a payload with a repeated 4-byte
 * mask, and build a whole masked client frame in one allocation. The pure-Python versions
 * in aiosocketio.ws.frames are used when this module is not built. Same semantics:
 * apply_mask(data, mask) -> bytes; masked_frame(first_byte, payload, mask) -> bytes.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* dst[i] = src[i] ^ key[i & 3] for n bytes */
static void
xor_mask(unsigned char *dst, const unsigned char *src, Py_ssize_t n, const unsigned char *key)
{
    Py_ssize_t i = 0;
    /* eight bytes at a time; the mask repeats every four bytes, so a 64-bit word holds it twice */
    uint32_t k32;
    memcpy(&k32, key, 4);
    uint64_t k64 = ((uint64_t)k32 << 32) | (uint64_t)k32;
    for (; i + 8 <= n; i += 8) {
        uint64_t word;
        memcpy(&word, src + i, 8);
        word ^= k64;
        memcpy(dst + i, &word, 8);
    }
    for (; i < n; i++) {
        dst[i] = src[i] ^ key[i & 3];
    }
}

static PyObject *
apply_mask(PyObject *self, PyObject *args)
{
    Py_buffer data, mask;
    if (!PyArg_ParseTuple(args, "y*y*:apply_mask", &data, &mask)) {
        return NULL;
    }
    if (mask.len != 4) {
        PyBuffer_Release(&data);
        PyBuffer_Release(&mask);
        PyErr_SetString(PyExc_ValueError, "a WebSocket mask is exactly 4 bytes");
        return NULL;
    }
    PyObject *result = PyBytes_FromStringAndSize(NULL, data.len);
    if (result != NULL) {
        xor_mask((unsigned char *)PyBytes_AS_STRING(result), (const unsigned char *)data.buf,
                 data.len, (const unsigned char *)mask.buf);
    }
    PyBuffer_Release(&data);
    PyBuffer_Release(&mask);
    return result;
}

/* A final or non-final masked frame: first byte as given (FIN, RSV, opcode), then the
 * length with the mask bit, the 4-byte mask and the masked payload, in one bytes object. */
static PyObject *
masked_frame(PyObject *self, PyObject *args)
{
    int b0;
    Py_buffer data, mask;
    if (!PyArg_ParseTuple(args, "iy*y*:masked_frame", &b0, &data, &mask)) {
        return NULL;
    }
    if (mask.len != 4 || b0 < 0 || b0 > 255) {
        PyBuffer_Release(&data);
        PyBuffer_Release(&mask);
        PyErr_SetString(PyExc_ValueError, "a 4-byte mask and a first byte 0-255 are required");
        return NULL;
    }
    Py_ssize_t n = data.len;
    Py_ssize_t head = n < 126 ? 2 : (n < 0x10000 ? 4 : 10);
    PyObject *result = PyBytes_FromStringAndSize(NULL, head + 4 + n);
    if (result != NULL) {
        unsigned char *out = (unsigned char *)PyBytes_AS_STRING(result);
        out[0] = (unsigned char)b0;
        if (head == 2) {
            out[1] = (unsigned char)(0x80 | n);
        } else if (head == 4) {
            out[1] = 0x80 | 126;
            out[2] = (unsigned char)(n >> 8);
            out[3] = (unsigned char)n;
        } else {
            uint64_t len = (uint64_t)n;
            out[1] = 0x80 | 127;
            for (int i = 0; i < 8; i++) {
                out[2 + i] = (unsigned char)(len >> (56 - 8 * i));
            }
        }
        memcpy(out + head, mask.buf, 4);
        xor_mask(out + head + 4, (const unsigned char *)data.buf, n,
                 (const unsigned char *)mask.buf);
    }
    PyBuffer_Release(&data);
    PyBuffer_Release(&mask);
    return result;
}

static PyMethodDef methods[] = {
    {"apply_mask", apply_mask, METH_VARARGS, "XOR data with the repeated 4-byte mask."},
    {"masked_frame", masked_frame, METH_VARARGS, "A masked frame: header, mask, payload."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "aiosocketio.ws._speedups", NULL, -1, methods,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModule_Create(&module);
}
