# The C2PA helper infra/provenance/c2pa.ts runs: c2pa-python (the Content Authenticity Initiative's binding of c2pa-rs,
# pinned in scripts/c2pa-requirements.txt) signs a manifest into an MP4, or reads and validates one. No C2PA logic here:
# the manifest definition comes from TypeScript as JSON; this only hands it and the files to the library.
#   sign: python c2pa_tool.py sign <request.json>   request: {source, dest, key, certs, manifest, parent?}
#   read: python c2pa_tool.py read <file.mp4>       prints {manifest_store, validation_state, validation_results}
import json
import sys

import c2pa


def sign(request_path):
    with open(request_path, encoding='utf-8') as f:
        request = json.load(f)
    with open(request['certs'], 'rb') as f:
        certs = f.read()
    with open(request['key'], 'rb') as f:
        key = f.read()
    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, certs, key, None))
    builder = c2pa.Builder(request['manifest'])
    parent = request.get('parent')
    if parent:
        with open(parent['file'], 'rb') as f:
            builder.add_ingredient(parent['ingredient'], 'video/mp4', f)
    with open(request['source'], 'rb') as source, open(request['dest'], 'wb') as dest:
        builder.sign(signer, 'video/mp4', source, dest)


def read(path):
    with open(path, 'rb') as f:
        reader = c2pa.Reader.try_create('video/mp4', f)
        if reader is None:
            print(json.dumps({'manifest_store': None, 'validation_state': None, 'validation_results': None}))
            return
        print(json.dumps({
            'manifest_store': json.loads(reader.json()),
            'validation_state': reader.get_validation_state(),
            'validation_results': reader.get_validation_results(),
        }))


if __name__ == '__main__':
    if len(sys.argv) != 3 or sys.argv[1] not in ('sign', 'read'):
        sys.exit('usage: c2pa_tool.py sign <request.json> | read <file.mp4>')
    try:
        (sign if sys.argv[1] == 'sign' else read)(sys.argv[2])
    except c2pa.C2paError as err:
        sys.exit(f'c2pa: {type(err).__name__}: {err}')
