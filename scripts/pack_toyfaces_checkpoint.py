#!/usr/bin/env python3
"""Pack a toy-world training checkpoint (toy-work/generator_fit.safetensors or
toy-work/clip_train.safetensors) for weights/toyfaces/: drop the optimiser state and the step,
write f16, and for CLIP zero the token rows that are zero in a reference CLIP file written by
`train_toyfaces --stage clip` (the rows no caption uses). Needs numpy.

    python scripts/pack_toyfaces_checkpoint.py SRC DST [REFERENCE_CLIP]
"""
import json, struct, sys, numpy as np
def read(p):
    b=open(p,'rb').read(); n=struct.unpack('<Q',b[:8])[0]; h=json.loads(b[8:8+n]); return h,b[8+n:]
src,dst=sys.argv[1],sys.argv[2]
h,data=read(src)
keep=None
if len(sys.argv)>3:
    rh,rd=read(sys.argv[3]); v=rh['token_embedding.weight']; s,e=v['data_offsets']
    ref=np.frombuffer(rd[s:e],dtype=np.float16).reshape(v['shape']); keep=np.abs(ref).sum(1)>0
out={}; blobs=[]; off=0
for k,v in sorted(((k,v) for k,v in h.items() if k!='__metadata__' and not k.startswith('adam.')), key=lambda kv: kv[0]):
    s,e=v['data_offsets']; assert v['dtype']=='F32'
    a=np.frombuffer(data[s:e],dtype=np.float32).reshape(v['shape']).copy()
    if k=='token_embedding.weight' and keep is not None: a[~keep]=0
    a=a.astype(np.float16).tobytes()
    out[k]={'dtype':'F16','shape':v['shape'],'data_offsets':[off,off+len(a)]}; blobs.append(a); off+=len(a)
meta=dict(h.get('__metadata__',{})); meta.pop('step',None); out['__metadata__']=meta
hj=json.dumps(out,separators=(',',':')).encode(); hj+=b' '*((8-len(hj)%8)%8)
open(dst,'wb').write(struct.pack('<Q',len(hj))+hj+b''.join(blobs))
print(src,'->',dst,8+len(hj)+off,'bytes', 'kept rows' if keep is None else int(keep.sum()))
