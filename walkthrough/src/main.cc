// tornado-walk: run a traced request through the stack and draw it, step
// through it, serve the demo application, or render a saved trace.
#include <iostream>
#include <stdexcept>

#include <CLI/CLI.hpp>

#include "cli.h"

int main(int argc, char** argv) {
    namespace cli = tornado::walkthrough::cli;
    CLI::App app{"tornado-walk: watch one HTTP request travel through an event-driven server"};
    app.require_subcommand(1);
    int status = 0;
    cli::add_run_commands(app, status);
    cli::add_step_commands(app, status);
    cli::add_serve_command(app, status);
    cli::add_dump_command(app, status);
    cli::add_view_command(app, status);
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        // A bad argument: CLI11 names it; the status is 2, as for every usage error.
        app.exit(e);
        return 2;
    } catch (const cli::UsageError& e) {
        std::cerr << "tornado-walk: error: " << e.what() << "\n";
        return 2;
    } catch (const std::invalid_argument& e) {
        std::cerr << "tornado-walk: error: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "tornado-walk: failed: " << e.what() << "\n";
        return 1;
    }
    return status;
}
