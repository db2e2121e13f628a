package main

// Tests of the 80/20 split against scikit-learn's.

import (
	"encoding/json"
	"os"
	"slices"
	"strconv"
	"testing"
)

func TestTrainTestSplitMatchesScikitLearn(t *testing.T) {
	raw, err := os.ReadFile("testdata/train_test_split_rs42.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		SplitsByN map[string]struct{ Train, Test []int } `json:"splits_by_n"`
	}
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	if len(ref.SplitsByN) == 0 {
		t.Fatal("reference holds no splits")
	}
	for key, want := range ref.SplitsByN {
		n, err := strconv.Atoi(key)
		if err != nil {
			t.Fatal(err)
		}
		train, test := trainTestSplit(n)
		if !slices.Equal(train, want.Train) || !slices.Equal(test, want.Test) {
			t.Errorf("n=%d: got train %v test %v, want train %v test %v", n, train, test, want.Train, want.Test)
		}
	}
}
