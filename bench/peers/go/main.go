// The baedal workload in Go: N concurrent orders as goroutines, each
// delivered, then a meal on time.Sleep, then eaten and collected; every
// step recorded. Meal of order i (1-based) of n: lo + (hi - lo) * (i - 1) / (n - 1)
// microseconds (integer division), as the server's GEN makes them.
//
// usage: peer-go N LO_US HI_US   ->  one JSON line on stdout
package main

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"
)

func main() {
	n, _ := strconv.ParseInt(os.Args[1], 10, 64)
	lo, _ := strconv.ParseInt(os.Args[2], 10, 64)
	hi, _ := strconv.ParseInt(os.Args[3], 10, 64)
	meals := make([]time.Duration, n)
	for i := int64(0); i < n; i++ {
		m := lo
		if n > 1 {
			m = lo + (hi-lo)*i/(n-1)
		}
		meals[i] = time.Duration(m) * time.Microsecond
	}
	ev := make([][3]time.Time, n)
	var wg sync.WaitGroup
	wg.Add(int(n))
	t0 := time.Now()
	for i := range meals {
		go func(i int) {
			defer wg.Done()
			ev[i][0] = time.Now() // delivered
			time.Sleep(meals[i])
			ev[i][1] = time.Now() // eaten
			ev[i][2] = time.Now() // collected
		}(i)
	}
	wg.Wait()
	var last time.Duration
	late := make([]float64, n)
	for i := range ev {
		c := ev[i][2].Sub(t0)
		if c > last {
			last = c
		}
		late[i] = float64(c-meals[i]) / 1e6
	}
	sort.Float64s(late)
	fmt.Printf("{\"peer\":\"go\",\"n\":%d,\"makespan_s\":%.6f,\"p99_late_ms\":%.3f}\n",
		n, last.Seconds(), late[int(0.99*float64(n-1)+0.5)])
}
