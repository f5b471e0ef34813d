/*
 * itemsim.h — item-to-item similarities from who bought what: EASE and cosine item-kNN.
 *
 * Both start from the item Gram matrix G = X^T X of a binary consumers × offers matrix X
 * (X_ui = 1 when consumer u bought offer i; G_ij = how many consumers bought both).
 *
 * EASE (Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW 2019) learns
 * the item-item weight matrix B minimising |X - X B|_F^2 + lambda |B|_F^2 subject to
 * diag(B) = 0; its closed form (Steck's eq. 8) is
 *
 *   P = (G + lambda I)^-1,   B_ij = -P_ij / P_jj  (i != j),   B_jj = 0,
 *
 * computed here by a Cholesky factorisation of G + lambda I and its inverse from the
 * factor (GSL, level-3 BLAS through OpenBLAS). A consumer's score of offer j is
 * sum_{i bought} B_ij.
 *
 * Item-kNN (Deshpande & Karypis, "Item-based top-N recommendation algorithms", ACM TOIS
 * 2004): cosine similarity s_ij = G_ij / sqrt(G_ii G_jj), of which each offer keeps its
 * k most similar offers; a consumer's score of offer j is the sum of s_ij over the
 * offers i they bought that have j among their k neighbours.
 *
 * Memory: the dense n × n matrix (8 n^2 bytes: 128 MB at 4,000 offers), owned by the
 * caller. indiv_itemsim_topk keeps k values per row for the model file and the scorer.
 */
#ifndef INDIV_ITEMSIM_H
#define INDIV_ITEMSIM_H

#include <stddef.h>

#include "indiv/error.h"
#include "indiv/train.h"

/* The columns of x that hold an entry (ascending, *cols of them, *n_cols) and x with
 * its columns renumbered to 0..n_cols-1 in that order. Fitting on the compact matrix
 * makes EASE independent of offers nobody interacted with (their rows and columns of B
 * are 0 anyway), and smaller. */
int indiv_itemsim_compact(const indiv_sparse *x, indiv_sparse **out /* OUT */,
                          size_t **cols /* OUT */, size_t *n_cols /* OUT */,
                          indiv_error *err);

/* G = X^T X (n × n, row-major, n = x->cols) of the binary pattern of x: every stored
 * entry counts 1, whatever its value. O(sum over rows of nnz_u^2). */
int indiv_itemsim_gram(const indiv_sparse *x, double *g /* OUT, n × n */,
                       indiv_error *err);

/* Turns the Gram matrix g (n × n) into EASE's B in place (see above). lambda > 0.
 * INDIV_EINVAL when G + lambda I is not positive definite. */
int indiv_itemsim_ease(double *g, size_t n, double lambda, indiv_error *err);

/* Turns the Gram matrix g into cosine similarities in place (diagonal 0; offers nobody
 * bought get a zero row and column). */
void indiv_itemsim_cosine(double *g, size_t n);

/* The k largest positive values of each row of s (n × n) as a sparse n × n matrix
 * (columns ascending in each row; ties to the lower column index). */
int indiv_itemsim_topk(const double *s, size_t n, size_t k, indiv_sparse **out /* OUT */,
                       indiv_error *err);

/* score[j] += sum over the offers i of hist (indices, n_hist of them) of s[i][j], for a
 * dense s (n × n) or, when s is NULL, the sparse rows of sp. */
void indiv_itemsim_score(const double *s, const indiv_sparse *sp, size_t n,
                         const size_t *hist, size_t n_hist, double *score /* OUT */);

#endif /* INDIV_ITEMSIM_H */
