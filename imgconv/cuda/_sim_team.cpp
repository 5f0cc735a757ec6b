// The CUDA simulator's thread team: one process-wide pool of host threads
// that runs the CUDA threads of a block (see _sim.h's launch).
//
// Starting a thread costs tens of microseconds, so starting a block's worth
// of threads for every launch cost 20 ms per launch of 256 threads.  The
// pool keeps its threads (it grows to the largest block launched, at most
// 1024) and every kernel library launches on it: the loader compiles this file
// once and hands each launch `imgconv_sim_run_team`.
#include <pthread.h>

#include <atomic>
#include <cstdio>
#include <exception>
#include <memory>
#include <semaphore>
#include <thread>
#include <vector>

namespace {

using Job = void (*)(void* context, unsigned int rank);

class Team {
public:
    // Runs job(context, rank) for rank in [0, size) on `size` threads at
    // once, and returns when all have returned.  Returns 0, or 1 with a
    // message in `error` when the threads cannot be started.
    int run(unsigned int size, Job job, void* context, char* error, unsigned long error_size) {
        try {
            while (workers_.size() < size) {
                workers_.push_back(std::make_unique<Worker>());
                std::thread(&Team::serve, this, workers_.back().get(),
                            (unsigned int)workers_.size() - 1).detach();
            }
        } catch (const std::exception& exc) {
            std::snprintf(error, error_size, "could not start host thread %zu of %u: %s",
                          workers_.size(), size, exc.what());
            return 1;
        }
        job_ = job;
        context_ = context;
        running_.store(size);
        // Only the block's threads wake: waking the whole pool (up to 1024
        // threads) for a small block cost more than the block's work.
        for (unsigned int rank = 0; rank < size; ++rank) workers_[rank]->start.release();
        done_.acquire();
        return 0;
    }

private:
    struct Worker {
        std::binary_semaphore start{0};
    };

    void serve(Worker* worker, unsigned int rank) {
        for (;;) {
            worker->start.acquire();           // the release publishes job_ and context_
            job_(context_, rank);
            if (running_.fetch_sub(1) == 1) done_.release();
        }
    }

    std::vector<std::unique_ptr<Worker>> workers_;   // only run() touches it
    std::atomic<unsigned int> running_{0};
    std::binary_semaphore done_{0};
    Job job_ = nullptr;
    void* context_ = nullptr;
};

// Never destroyed: its threads wait on it until the process exits.
Team* team = new Team;

// A forked child has none of the parent's threads: it starts a team of its
// own.
void reset_after_fork() { team = new Team; }
const int registered = pthread_atfork(nullptr, nullptr, reset_after_fork);

}  // namespace

extern "C" __attribute__((visibility("default"))) int imgconv_sim_run_team(
        unsigned int size, Job job, void* context, char* error, unsigned long error_size) {
    return team->run(size, job, context, error, error_size);
}
