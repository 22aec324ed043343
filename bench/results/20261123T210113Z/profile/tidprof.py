import collections,re,sys
by_tid=collections.Counter(); sym=collections.defaultdict(collections.Counter); dso=collections.defaultdict(collections.Counter)
for line in open(sys.argv[1]):
    m=re.match(r'\s*(\d+)\s+[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$', line)
    if not m: continue
    tid,s,d=m.groups(); by_tid[tid]+=1
    s=re.sub(r'\+0x[0-9a-f]+$','',s.strip()); sym[tid][s[:120]]+=1
    d=d.split('/')[-1]; dso[tid][d]+=1
tot=sum(by_tid.values())
top=int(sys.argv[2]) if len(sys.argv)>2 else 18
for tid,n in by_tid.most_common():
    print(f"tid {tid}: {n} samples ({100*n/tot:.1f}% of all)")
    print("  by dso:", ", ".join(f"{k} {100*v/n:.1f}%" for k,v in dso[tid].most_common(6)))
    for k,v in sym[tid].most_common(top if n>0.3*tot else 8):
        print(f"    {100*v/n:5.1f}%  {k}")
