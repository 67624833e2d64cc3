/* placeholder: the mux interface lands with src/mux.c */
