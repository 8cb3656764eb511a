import concurrent.futures as cf, multiprocessing as mp, os, sys, ctypes, time
def work(args):
    task, mode = args
    if task == 4:
        if mode == "segv": ctypes.string_at(0)
        if mode == "exit": os._exit(3)
        if mode == "abort": os.abort()
        if mode == "hang": time.sleep(3600)
        if mode == "oom":
            import resource
            resource.setrlimit(resource.RLIMIT_AS, (256 << 20, 256 << 20))
            blocks = []
            while True: blocks.append(bytearray(16 << 20))
    time.sleep(0.05)
    return task * task
if __name__ == "__main__":
    mode = sys.argv[1]
    pool = cf.ProcessPoolExecutor(2, mp_context=mp.get_context("fork"))
    fs = [pool.submit(work, (i + 1, mode)) for i in range(10)]
    ok = 0
    for i, f in enumerate(fs):
        try:
            r = f.result(timeout=0.2 if mode == "hang" else None)
            print(f"task {i+1:2d}: {r}"); ok += 1
        except Exception as e:
            print(f"task {i+1:2d}: {type(e).__name__}: {e}")
    try:
        pool.submit(work, (11, mode)).result(timeout=5); print("afterwards: the pool still serves")
    except Exception as e:
        print(f"afterwards: {type(e).__name__}: {e}")
    print(f"{ok} of 10 succeeded")
    for p in list(pool._processes.values()): p.kill()
    pool.shutdown(wait=False, cancel_futures=True)
    os._exit(0)
