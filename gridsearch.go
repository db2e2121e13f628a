package main

// GridSearchCV: 5-fold cross-validation over a model's candidates, the
// choice by mean R², and the parallel loop that spreads the fits over
// borrowed workers.

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/mat"
)

// r2Score is scikit-learn's r2_score for one target: 1 − SS_res/SS_tot,
// with 1 for a perfect fit of a constant target and 0 for an imperfect one.
func r2Score(yTrue, yPred []float64) float64 {
	var mean float64
	for _, v := range yTrue {
		mean += v
	}
	mean /= float64(len(yTrue))
	var num, den float64
	for i, v := range yTrue {
		d := v - yPred[i]
		num += d * d
		e := v - mean
		den += e * e
	}
	switch {
	case den != 0:
		return 1 - num/den
	case num == 0:
		return 1
	default:
		return 0
	}
}

// kFoldBounds returns the [start, end) test ranges of scikit-learn's
// KFold(n_splits=k, shuffle=False): n/k rows each, the first n%k folds one more.
func kFoldBounds(n, k int) [][2]int {
	out := make([][2]int, k)
	start := 0
	for f := 0; f < k; f++ {
		size := n / k
		if f < n%k {
			size++
		}
		out[f] = [2]int{start, start + size}
		start += size
	}
	return out
}

// selectRows copies the rows of x whose indices are listed.
func selectRows(x *mat.Dense, idx []int) *mat.Dense {
	_, cols := x.Dims()
	out := mat.NewDense(len(idx), cols, nil)
	for i, r := range idx {
		copy(out.RawRowView(i), x.RawRowView(r))
	}
	return out
}

// searchRows tells a group fit where its training rows come from: the
// given rows (ascending) of the whole search's matrix all. Group fits of one
// search share the shared map, for values they can compute once for every
// fold (keys are the fit's own).
type searchRows struct {
	all    *mat.Dense
	rows   []int
	shared *sync.Map
}

// pool returns the search's pool named key (made on first use), for
// buffers its group fits lend each other.
func (r *searchRows) pool(key string) *sync.Pool {
	v, _ := r.shared.LoadOrStore(key, &sync.Pool{})
	return v.(*sync.Pool)
}

// searchResult is what a grid search chose.
type searchResult struct {
	model  predictor
	best   candidate
	bestCV float64 // mean R² over the folds of the chosen candidate (NaN without search)
}

// searchFolds is the grid search's number of folds.
const searchFolds = 5

// search is GridSearchCV(cv=5) for a regressor: KFold without shuffle,
// the mean R² over the 5 folds per candidate, the first candidate with the
// highest mean wins (rank "min", argmin), then a refit on all rows. A
// candidate whose fit fails on a fold scores NaN and is ranked last, as
// error_score=nan does.
//
// It runs in three steps: newSearch splits the folds; run fits one
// (candidate group, fold) task, from any goroutine and in any order (every
// score lands in its own slot, and the means add the folds in order, so
// the choice is the same however many workers ran); finish chooses and
// refits once every task has run, or returns stopCause(ctx) once ctx is
// done.
type search struct {
	spec   modelSpec
	x      *mat.Dense
	y      []float64
	folds  []searchFold
	copies []int
	groups [][]int
	scores [][searchFolds]float64
	shared *sync.Map // what the group fits of this search compute once for all folds
}

// searchFold is one fold's training and test rows.
type searchFold struct {
	trainX, testX *mat.Dense
	trainY, testY []float64
	rows          []int // the training rows of x
}

func newSearch(spec modelSpec, x *mat.Dense, y []float64) (*search, error) {
	n, _ := x.Dims()
	if len(spec.grid) == 0 {
		return nil, fmt.Errorf("%w: empty grid", errNotFittable)
	}
	if n < searchFolds {
		return nil, fmt.Errorf("%w: %d training rows, the 5-fold search needs at least 5", errNotFittable, n)
	}
	s := &search{spec: spec, x: x, y: y, folds: make([]searchFold, searchFolds), scores: make([][searchFolds]float64, len(spec.grid)), shared: &sync.Map{}}
	for f, b := range kFoldBounds(n, searchFolds) {
		var tr, te []int
		for i := 0; i < n; i++ {
			if i >= b[0] && i < b[1] {
				te = append(te, i)
			} else {
				tr = append(tr, i)
			}
		}
		s.folds[f] = searchFold{trainX: selectRows(x, tr), testX: selectRows(x, te), trainY: pick(y, tr), testY: pick(y, te), rows: tr}
	}
	s.copies, s.groups = searchPlan(spec)
	return s, nil
}

// tasks is the number of (candidate group, fold) fits.
func (s *search) tasks() int { return len(s.groups) * searchFolds }

// run fits the task'th (candidate group, fold) and scores its candidates.
func (s *search) run(ctx context.Context, task int) {
	grid := s.spec.grid
	members, f := s.groups[task/searchFolds], s.folds[task%searchFolds]
	models := make([]predictor, len(members))
	var err error
	if len(members) == 1 {
		models[0], err = grid[members[0]].fit(ctx, f.trainX, f.trainY)
	} else {
		cands := make([]candidate, len(members))
		for i, c := range members {
			cands[i] = grid[c]
		}
		models, err = s.spec.fitGroup(ctx, cands, f.trainX, f.trainY, &searchRows{all: s.x, rows: f.rows, shared: s.shared})
	}
	pred := make([]float64, len(f.testY))
	for i, c := range members {
		if err != nil || models[i] == nil {
			s.scores[c][task%searchFolds] = math.NaN()
			continue
		}
		models[i].predict(f.testX, pred)
		s.scores[c][task%searchFolds] = r2Score(f.testY, pred)
	}
}

// finish chooses the candidate by mean score and refits it on all rows.
func (s *search) finish(ctx context.Context) (searchResult, error) {
	if err := stopCause(ctx); err != nil { // a stopped fit scored NaN: no choice can be made
		return searchResult{}, err
	}
	grid := s.spec.grid
	means := make([]float64, len(grid))
	for c, first := range s.copies {
		var sum float64
		for _, v := range s.scores[first] {
			sum += v
		}
		means[c] = sum / searchFolds
	}
	best := -1
	for c, m := range means {
		if math.IsNaN(m) {
			continue
		}
		if best < 0 || m > means[best] {
			best = c
		}
	}
	if best < 0 {
		return searchResult{}, fmt.Errorf("%w: no candidate could be fitted on every fold", errNotFittable)
	}
	var model predictor
	var err error
	if s.spec.refit != nil {
		n, _ := s.x.Dims()
		all := make([]int, n)
		for i := range all {
			all[i] = i
		}
		model, err = s.spec.refit(ctx, grid[best], s.x, s.y, &searchRows{all: s.x, rows: all, shared: s.shared})
	} else {
		model, err = grid[best].fit(ctx, s.x, s.y)
	}
	if err != nil {
		return searchResult{}, err
	}
	return searchResult{model: model, best: grid[best], bestCV: means[best]}, nil
}

// searchPlan says which candidates a search fits and how: copies[c] is the
// candidate whose scores c takes (itself, or the first with its fitKey),
// and groups lists the fitted candidates, in grid order, those of one
// group together when the spec can fit groups.
func searchPlan(spec modelSpec) (copies []int, groups [][]int) {
	copies = make([]int, len(spec.grid))
	sameAs := map[string]int{} // fitKey → the candidate fitted for it
	slot := map[string]int{}   // group → its index in groups
	for c, cand := range spec.grid {
		copies[c] = c
		if cand.fitKey != "" {
			if first, ok := sameAs[cand.fitKey]; ok {
				copies[c] = first
				continue
			}
			sameAs[cand.fitKey] = c
		}
		if spec.fitGroup != nil && cand.group != "" {
			if g, ok := slot[cand.group]; ok {
				groups[g] = append(groups[g], c)
				continue
			}
			slot[cand.group] = len(groups)
		}
		groups = append(groups, []int{c})
	}
	return copies, groups
}

// pick returns v[idx[0]], v[idx[1]], ….
func pick(v []float64, idx []int) []float64 {
	out := make([]float64, len(idx))
	for i, r := range idx {
		out[i] = v[r]
	}
	return out
}

// borrower lends an extra worker for parallel model fitting: it returns a
// release function and true when a worker is free right now, false without
// waiting otherwise. The server's borrower takes slots of its computation
// cap, so parallel fits never exceed it.
type borrower func() (release func(), ok bool)

// parallelFor calls fn(0) … fn(n−1), on the calling goroutine and on extra
// workers that borrow lends: at most n − 1 in all, asked for at the start
// and again by the calling goroutine before each task it takes while more
// tasks are unclaimed than extra workers run, so that a slot freed midway
// (another computation ending) joins the remaining work. Once ctx is done
// no further task starts (those running finish; fn checks ctx itself to
// stop sooner).
//
// fn receives the borrower for parallel work nested in its task: once the
// calling goroutine has no task left to take, it lends its own slot there
// while it waits for the others (a search of one axis then takes over the
// core of the axis that finished first), and takes it back when they are
// done, by when every nested loop has given it back.
func parallelFor(ctx context.Context, n int, borrow borrower, fn func(i int, borrow borrower)) {
	var next, running, idle atomic.Int64 // idle: 1 while the calling goroutine lends its slot
	nested := borrow
	if borrow != nil {
		nested = func() (func(), bool) {
			if idle.CompareAndSwap(1, 0) {
				return func() { idle.Store(1) }, true
			}
			return borrow()
		}
	}
	borrowed := 0 // extra workers so far (only the calling goroutine borrows)
	var wg sync.WaitGroup
	// addWorkers borrows while tasks beyond those claimed outnumber the extra
	// workers running, and reports whether borrowing should be tried again.
	// Once it has started workers it yields: a goroutine just started waits
	// on this core until something steals it, which took 0.7 ms in a served
	// calibration (0.03 ms with the yield), while the core that wakes for
	// it takes this goroutine from the run queue at once.
	addWorkers := func() bool {
		started := false
		defer func() {
			if started {
				runtime.Gosched()
			}
		}()
		for borrow != nil && borrowed < n-1 && int64(n)-next.Load() > running.Load() {
			release, ok := borrow()
			if !ok {
				return true
			}
			started = true
			borrowed++
			running.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer release()
				defer running.Add(-1)
				for ctx.Err() == nil {
					i := int(next.Add(1)) - 1
					if i >= n {
						return
					}
					fn(i, nested)
				}
			}()
		}
		return false
	}
	retry := addWorkers()
	for ctx.Err() == nil {
		i := int(next.Add(1)) - 1
		if i >= n {
			break
		}
		if retry {
			retry = addWorkers()
		}
		fn(i, nested)
	}
	if borrowed > 0 {
		idle.Store(1)
		wg.Wait()
		idle.Store(0) // every nested loop has returned what it took
	}
}
