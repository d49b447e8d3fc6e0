package translate_test

import (
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mcpgw/mcpgw/xds/ir"
	"github.com/mcpgw/mcpgw/xds/translate"
)

// BenchmarkGateway translates a whole fleet from scratch and reports the wire size of each resource type.
func BenchmarkGateway(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("servers=%d", n), func(b *testing.B) {
			g := model(n).Gateway(ir.DefaultFleet)
			tr, err := translate.New(translate.DefaultOptions())
			if err != nil {
				b.Fatal(err)
			}
			var res *translate.Resources
			b.ReportAllocs()
			for b.Loop() {
				if res, err = tr.Gateway(g); err != nil {
					b.Fatal(err)
				}
			}
			size := func(ms []proto.Message) float64 {
				total := 0
				for _, m := range ms {
					total += proto.Size(m)
				}
				return float64(total)
			}
			var rds, cds, eds []proto.Message
			for _, r := range res.Routes {
				rds = append(rds, r)
			}
			for _, c := range res.Clusters {
				cds = append(cds, c)
			}
			for _, e := range res.Endpoints {
				eds = append(eds, e)
			}
			b.ReportMetric(size(rds), "rds-bytes")
			b.ReportMetric(size(cds), "cds-bytes")
			b.ReportMetric(size(eds), "eds-bytes")
		})
	}
}
