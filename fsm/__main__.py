from fsm.entry import main

main()
