package main

import (
	"math"
	"slices"
)

// projectPCA projects n rows of dimension dim onto the k leading eigenvectors
// of their (uncentred) second-moment matrix. Without centring, a pooled mean
// of projected rows is the projection of the pooled mean, so sentence vectors
// lose only the energy outside the kept axes.
func projectPCA(rows []float32, dim, k int) []float32 {
	n := len(rows) / dim
	c := make([]float64, dim*dim)
	x := make([]float64, dim)
	for r := range n {
		for j, v := range rows[r*dim : (r+1)*dim] {
			x[j] = float64(v)
		}
		for i := range dim {
			xi := x[i]
			if xi == 0 {
				continue
			}
			ci := c[i*dim : (i+1)*dim]
			for j := i; j < dim; j++ {
				ci[j] += xi * x[j]
			}
		}
	}
	for i := range dim {
		for j := range i {
			c[i*dim+j] = c[j*dim+i]
		}
	}
	vals, vecs := jacobiEigen(c, dim)
	idx := make([]int, dim)
	for i := range idx {
		idx[i] = i
	}
	// Largest eigenvalues first; ties broken by index for determinism.
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case vals[a] > vals[b]:
			return -1
		case vals[a] < vals[b]:
			return 1
		}
		return a - b
	})
	out := make([]float32, n*k)
	for r := range n {
		row := rows[r*dim : (r+1)*dim]
		for a := range k {
			e := idx[a]
			var s float64
			for j, v := range row {
				s += float64(v) * vecs[j*dim+e]
			}
			out[r*k+a] = float32(s)
		}
	}
	return out
}

// jacobiEigen diagonalises the symmetric dim×dim matrix a (row-major,
// destroyed) by cyclic Jacobi rotations. It returns the eigenvalues and the
// eigenvectors as the columns of a row-major matrix.
func jacobiEigen(a []float64, dim int) ([]float64, []float64) {
	v := make([]float64, dim*dim)
	for i := range dim {
		v[i*dim+i] = 1
	}
	for sweep := 0; sweep < 60; sweep++ {
		var off, diag float64
		for i := range dim {
			diag += a[i*dim+i] * a[i*dim+i]
			for j := i + 1; j < dim; j++ {
				off += a[i*dim+j] * a[i*dim+j]
			}
		}
		if off <= 1e-22*diag {
			break
		}
		for p := 0; p < dim-1; p++ {
			for q := p + 1; q < dim; q++ {
				apq := a[p*dim+q]
				if math.Abs(apq) < 1e-300 {
					continue
				}
				theta := (a[q*dim+q] - a[p*dim+p]) / (2 * apq)
				t := math.Copysign(1, theta) / (math.Abs(theta) + math.Sqrt(theta*theta+1))
				cs := 1 / math.Sqrt(t*t+1)
				sn := t * cs
				for k := range dim {
					akp, akq := a[k*dim+p], a[k*dim+q]
					a[k*dim+p] = cs*akp - sn*akq
					a[k*dim+q] = sn*akp + cs*akq
				}
				for k := range dim {
					apk, aqk := a[p*dim+k], a[q*dim+k]
					a[p*dim+k] = cs*apk - sn*aqk
					a[q*dim+k] = sn*apk + cs*aqk
				}
				for k := range dim {
					vkp, vkq := v[k*dim+p], v[k*dim+q]
					v[k*dim+p] = cs*vkp - sn*vkq
					v[k*dim+q] = sn*vkp + cs*vkq
				}
			}
		}
	}
	vals := make([]float64, dim)
	for i := range dim {
		vals[i] = a[i*dim+i]
	}
	return vals, v
}
